"""Hostile input: every request gets its exact outcome, never a 5xx, and the API keeps serving.

Each request of the corpus (``hostile_corpus.py``) is either refused with a JSON 4xx that
stores nothing, or accepted and its bad record rejected on its own, with a reason, while
the batch completes: no failed chunk, nothing else lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.functional.hostile_corpus import ACCEPTED, AUTH, CORPUS, Hostile

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline


def _send(pipeline: Pipeline, hostile: Hostile, auth: dict[str, str] | None = None) -> Any:
    headers = {**(pipeline.auth if auth is None else auth), **hostile.headers}
    method = getattr(pipeline.client.http, hostile.method.lower())
    if hostile.method == "GET":
        return method(hostile.path, headers=headers)
    return method(hostile.path, headers=headers, body=hostile.body)


def _stored(pipeline: Pipeline) -> tuple[int, int, int]:
    return (
        len(pipeline.object_keys("RawBucketName")),
        len(pipeline.batch_items()),
        pipeline.queue_depth("IngestQueueUrl"),
    )


@pytest.mark.parametrize("hostile", CORPUS, ids=[h.name for h in CORPUS])
def test_a_hostile_request_gets_its_exact_outcome(pipeline: Pipeline, hostile: Hostile):
    before = _stored(pipeline)

    response = _send(pipeline, hostile)

    assert response.status_code < 500, response.body[:300]
    body = response.json_body
    assert isinstance(body, dict), response.body[:300]
    if hostile.status != ACCEPTED:
        assert (response.status_code, body.get("code")) == (hostile.status, hostile.code), body
        assert isinstance(body.get("message"), str)
        assert _stored(pipeline) == before  # nothing stored, nothing queued
    else:
        assert response.status_code == 202, body
        batch = pipeline.wait(body["batch_id"])
        assert batch["chunks"]["failed"] == 0, batch["error"]
        assert batch["counts"]["failed"] == 0
        assert batch["counts"]["rejected"] == hostile.rejects
        assert batch["status"] in {"SUCCEEDED", "COMPLETED_WITH_REJECTS"}
        if hostile.rejects:
            page = pipeline.get(f"/batches/{body['batch_id']}/records?status=rejected")
            assert all(r["reasons"] for r in page.json_body["records"])
    assert pipeline.get("/health").status_code == 200


@pytest.mark.parametrize(("name", "auth", "status"), AUTH, ids=[a[0] for a in AUTH])
def test_an_odd_authorization_header_is_refused(
    pipeline: Pipeline, name: str, auth: dict[str, str], status: int
):
    before = _stored(pipeline)
    request = Hostile(name, "POST", "/batches", b'{"dataset": "flights", "records": [{}]}')

    response = _send(pipeline, request, auth={"Content-Type": "application/json", **auth})

    assert response.status_code == status
    assert _stored(pipeline) == before
    assert pipeline.get("/health").status_code == 200


def test_the_corpus_is_large_enough():
    assert len(CORPUS) + len(AUTH) >= 60
