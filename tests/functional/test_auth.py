"""Every data route needs a bearer key with the right scope; health and OpenAPI stay open."""

from __future__ import annotations

import pytest

from chalicelib.api_keys import ApiKeyRepository, Scope
from tests.functional.conftest import Pipeline, csv_body, csv_rows

HEADER, ROWS = csv_rows("flights_1000.csv")
BODY = csv_body(HEADER, ROWS[:2])
READ_PATHS = [
    "/batches",
    "/batches/20990101T000000-0000000000000000",
    "/batches/20990101T000000-0000000000000000/records",
    "/batches/20990101T000000-0000000000000000/execution",
]


def _keys(pipeline: Pipeline) -> ApiKeyRepository:
    table = pipeline.aws["dynamodb"].Table(pipeline.outputs["ApiKeysTableName"])
    return ApiKeyRepository(table)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", READ_PATHS)
def test_reads_without_a_key_are_401(pipeline: Pipeline, path: str):
    assert pipeline.get(path, headers={}).status_code == 401


def test_ingest_without_a_key_is_401_and_stores_nothing(pipeline: Pipeline):
    answer = pipeline.client.http.post(
        "/batches?dataset=flights", headers={"Content-Type": "text/csv"}, body=BODY
    )

    assert answer.status_code == 401
    assert pipeline.object_keys("RawBucketName") == []


@pytest.mark.parametrize("header", ["Bearer sluice_not-a-key", "Basic dXNlcjpwYXNz", "Bearer"])
def test_an_unknown_key_is_refused(pipeline: Pipeline, header: str):
    assert pipeline.get("/batches", headers={"Authorization": header}).status_code == 403


def test_a_read_key_reads_but_cannot_ingest(pipeline: Pipeline):
    _, token = _keys(pipeline).create("reader", [Scope.READ])

    assert pipeline.get("/batches", headers=_bearer(token)).status_code == 200
    answer = pipeline.post(BODY, headers=_bearer(token))
    assert answer.status_code == 403
    assert pipeline.table_items("BatchesTableName") == []


def test_an_ingest_key_ingests_but_cannot_read(pipeline: Pipeline):
    _, token = _keys(pipeline).create("uploader", [Scope.INGEST])

    answer = pipeline.post(BODY, headers=_bearer(token))
    assert answer.status_code == 202
    assert pipeline.get(answer.json_body["status_url"], headers=_bearer(token)).status_code == 403


def test_a_revoked_key_is_refused(pipeline: Pipeline):
    keys = _keys(pipeline)
    key, token = keys.create("leaver", [Scope.ADMIN])
    assert pipeline.get("/batches", headers=_bearer(token)).status_code == 200

    assert keys.revoke(key.short_id) is not None

    assert pipeline.get("/batches", headers=_bearer(token)).status_code == 403


def test_keys_are_stored_only_as_hashes(pipeline: Pipeline):
    items = pipeline.table_items("ApiKeysTableName")

    assert items
    assert not any(pipeline.token in str(item) for item in items)


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_health_and_openapi_need_no_key(pipeline: Pipeline, path: str):
    assert pipeline.get(path, headers={}).status_code == 200
