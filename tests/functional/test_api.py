"""The HTTP API's contract: refusals leave no trace, idempotent posts, pagination, OpenAPI."""

from __future__ import annotations

import json

import pytest

import app
from devserver.runtime import apply_environment
from tests.functional.conftest import Pipeline, csv_body, csv_rows

HEADER, ROWS = csv_rows("flights_1000.csv")
GOOD_CSV = csv_body(HEADER, ROWS[:5])


def _json_records(count: int = 3) -> list[dict[str, str]]:
    names = HEADER.split(",")
    return [dict(zip(names, row.split(","), strict=True)) for row in ROWS[:count]]


def _assert_no_trace(pipeline: Pipeline) -> None:
    assert pipeline.object_keys("RawBucketName") == []
    assert pipeline.table_items("BatchesTableName") == []
    assert pipeline.queue_depth("IngestQueueUrl") == 0


BAD_REQUESTS = [
    pytest.param(
        b'{"dataset": "flights", "records": [',
        "application/json",
        "",
        400,
        "malformed_request",
        id="malformed-json",
    ),
    pytest.param(
        GOOD_CSV.encode(),
        None,
        "?dataset=flights",
        415,
        "unsupported_media_type",
        id="missing-content-type",
    ),
    pytest.param(
        GOOD_CSV.encode(),
        "text/plain",
        "?dataset=flights",
        415,
        "unsupported_media_type",
        id="wrong-content-type",
    ),
    pytest.param(b"", "text/csv", "?dataset=flights", 400, "malformed_request", id="empty-body"),
    pytest.param(b"  \n", "application/json", "", 400, "malformed_request", id="blank-body"),
    pytest.param(
        GOOD_CSV.encode(),
        "text/csv",
        "?dataset=trains",
        422,
        "unknown_dataset",
        id="unknown-dataset",
    ),
    pytest.param(
        json.dumps({"dataset": "trains", "records": [{"a": 1}]}).encode(),
        "application/json",
        "",
        422,
        "unknown_dataset",
        id="unknown-dataset-json",
    ),
    pytest.param(
        GOOD_CSV.encode(), "text/csv", "", 400, "malformed_request", id="csv-without-dataset"
    ),
    pytest.param(
        GOOD_CSV.replace("carrier", "airline", 1).encode(),
        "text/csv",
        "?dataset=flights",
        400,
        "malformed_request",
        id="csv-wrong-header",
    ),
    pytest.param(
        b'{"year": 2013}\nnot json\n',
        "application/x-ndjson",
        "?dataset=flights",
        400,
        "malformed_request",
        id="ndjson-bad-line",
    ),
    pytest.param(
        json.dumps({"dataset": "flights", "records": []}).encode(),
        "application/json",
        "",
        400,
        "malformed_request",
        id="no-records",
    ),
    pytest.param(
        json.dumps({"dataset": "flights", "records": [1, 2]}).encode(),
        "application/json",
        "",
        400,
        "malformed_request",
        id="records-not-objects",
    ),
    pytest.param(
        b"\xff\xfe\x00bad", "text/csv", "?dataset=flights", 400, "malformed_request", id="not-utf8"
    ),
]


@pytest.mark.parametrize(("body", "content_type", "query", "status", "code"), BAD_REQUESTS)
def test_bad_input_gets_a_json_4xx_and_leaves_no_trace(
    pipeline: Pipeline, body: bytes, content_type: str | None, query: str, status: int, code: str
):
    answer = pipeline.post(body, content_type=content_type, query=query)

    assert answer.status_code == status, answer.body
    assert answer.json_body["code"] == code
    assert answer.json_body["message"]
    _assert_no_trace(pipeline)


@pytest.mark.parametrize(
    ("setting", "limit", "message"),
    [
        ("SLUICE_MAX_RECORDS", "4", "the limit is 4 per batch"),
        ("SLUICE_MAX_BODY_BYTES", "100", "the limit is 100 bytes"),
    ],
)
def test_over_a_limit_is_413_and_leaves_no_trace(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, setting: str, limit: str, message: str
):
    monkeypatch.setenv(setting, limit)
    apply_environment({})

    answer = pipeline.post(GOOD_CSV)

    assert answer.status_code == 413
    assert answer.json_body["code"] == "payload_too_large"
    assert message in answer.json_body["message"]
    _assert_no_trace(pipeline)


def test_csv_header_error_names_the_missing_and_unexpected_columns(pipeline: Pipeline):
    answer = pipeline.post(GOOD_CSV.replace("carrier", "airline", 1))

    assert answer.json_body["details"] == [
        {
            "code": "header_mismatch",
            "line": 1,
            "missing_columns": ["carrier"],
            "unexpected_columns": ["airline"],
        }
    ]


def test_json_ndjson_and_csv_bodies_are_all_accepted(pipeline: Pipeline):
    records = _json_records()
    as_json = json.dumps({"dataset": "flights", "records": records})
    as_ndjson = "\n".join(json.dumps(r) for r in records) + "\n"

    answers = [
        pipeline.post(as_json, content_type="application/json; charset=utf-8", query=""),
        pipeline.post(as_ndjson, content_type="application/x-ndjson"),
        pipeline.post(csv_body(HEADER, ROWS[:3])),
    ]

    assert [a.status_code for a in answers] == [202, 202, 202]
    batches = [pipeline.wait(a.json_body["batch_id"]) for a in answers]
    assert [b["status"] for b in batches] == ["SUCCEEDED"] * 3
    assert [b["counts"]["processed"] for b in batches] == [3, 3, 3]
    assert answers[0].headers["Location"] == answers[0].json_body["status_url"]


def test_same_idempotency_key_twice_makes_one_batch_and_no_duplicates(pipeline: Pipeline):
    headers = {"Idempotency-Key": "upload-2013-01-01"}

    first = pipeline.post(GOOD_CSV, headers=headers).json_body
    second = pipeline.post(GOOD_CSV, headers=headers).json_body
    pipeline.wait(first["batch_id"])
    third = pipeline.post(GOOD_CSV, headers=headers).json_body

    assert first["batch_id"] == second["batch_id"] == third["batch_id"]
    assert (first["duplicate"], second["duplicate"], third["duplicate"]) == (False, True, True)
    assert len(pipeline.get("/batches").json_body["batches"]) == 1
    lines = [r["lineage"]["line"] for r in pipeline.processed_lines(first["batch_id"])]
    assert sorted(lines) == sorted(set(lines)) and len(lines) == 5
    assert (
        len(
            pipeline.aws["stepfunctions"].list_executions(
                stateMachineArn=pipeline.outputs["StateMachineArn"]
            )["executions"]
        )
        == 1
    )


def test_same_idempotency_key_with_another_body_is_409(pipeline: Pipeline):
    headers = {"Idempotency-Key": "upload-1"}
    pipeline.post(GOOD_CSV, headers=headers)

    answer = pipeline.post(csv_body(HEADER, ROWS[5:8]), headers=headers)

    assert answer.status_code == 409
    assert answer.json_body["code"] == "idempotency_conflict"
    assert len(pipeline.batch_items()) == 1


def test_batches_are_listed_newest_first_page_by_page(pipeline: Pipeline):
    ids = [pipeline.post(csv_body(HEADER, [row])).json_body["batch_id"] for row in ROWS[:5]]

    seen: list[str] = []
    page = pipeline.get("/batches?limit=2").json_body
    while True:
        seen.extend(b["batch_id"] for b in page["batches"])
        if not page["next"]:
            break
        page = pipeline.get(f"/batches?limit=2&next={page['next']}").json_body

    assert seen == list(reversed(ids))


def test_records_are_paged_in_line_order(pipeline: Pipeline):
    batch_id = pipeline.post(csv_body(HEADER, ROWS[:7])).json_body["batch_id"]
    pipeline.wait(batch_id)

    lines: list[int] = []
    url = f"/batches/{batch_id}/records?status=processed&limit=3"
    while url:
        page = pipeline.get(url).json_body
        lines.extend(r["lineage"]["line"] for r in page["records"])
        url = f"/batches/{batch_id}/records?limit=3&next={page['next']}" if page["next"] else ""

    assert lines == list(range(2, 9))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/batches/20990101T000000-0000000000000000", 404),
        ("/batches/<script>", 404),
        ("/batches?limit=0", 400),
        ("/batches?limit=many", 400),
        ("/batches?next=not-a-token", 400),
        ("/batches?next=e30", 400),
        ("/batches?colour=blue", 400),
    ],
)
def test_bad_reads_get_a_json_4xx(pipeline: Pipeline, path: str, status: int):
    answer = pipeline.get(path)

    assert answer.status_code == status
    assert answer.json_body["code"]


def test_records_query_rejects_unknown_status(pipeline: Pipeline):
    batch_id = pipeline.post(GOOD_CSV).json_body["batch_id"]

    answer = pipeline.get(f"/batches/{batch_id}/records?status=lost")

    assert answer.status_code == 400
    assert answer.json_body["details"][0]["field"] == "status"


def test_openapi_document_describes_the_v1_routes(pipeline: Pipeline):
    document = pipeline.get("/openapi.json").json_body

    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, methods in document["paths"].items() for method in methods
    }
    served = {
        (path, method)
        for path, methods in app.app.routes.items()
        for method in methods
        if path != "/openapi.json"
    }
    assert documented == served
    schemas = document["components"]["schemas"]
    assert {"BatchAccepted", "BatchView", "ErrorBody", "JsonBatchRequest"} <= set(schemas)
    assert {"UploadRequest", "UploadTicket", "ChunkPage", "PartitionPage"} <= set(schemas)
    assert "records_received" in schemas["BatchAccepted"]["properties"]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_health_answers_ok(pipeline: Pipeline):
    assert pipeline.get("/health").json_body == {"status": "ok"}


def test_datasets_describe_their_header_filters_and_display(pipeline: Pipeline):
    listed = {d["name"]: d for d in pipeline.get("/datasets").json_body["datasets"]}

    assert {"flights", "readings"} <= set(listed)
    readings = listed["readings"]
    assert readings["csv_columns"] == ["sensor", "taken_at", "celsius"]
    assert readings["filters"] == ["sensor", "site"]
    assert readings["display"]["record_label"] == "sensor"
    assert [c["label"] for c in readings["display"]["columns"]] == [
        "Taken",
        "Temperature",
        "Site",
        "Gaps",
    ]
    route = listed["flights"]["display"]["columns"][1]
    assert route["fields"] == ["origin", "dest"]
    assert route["format"] == "code"
