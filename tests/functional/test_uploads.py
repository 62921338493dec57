"""Uploads: POST /uploads, the presigned POST, S3 → EventBridge → SQS → the starter → a batch."""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

from tests.functional.conftest import Pipeline, csv_body, csv_rows
from tests.uploads import send_to_ticket

if TYPE_CHECKING:
    import pytest

HEADER, ROWS = csv_rows("flights_1000.csv")
_, BROKEN = csv_rows("flights_broken.csv")


def _declare(
    pipeline: Pipeline, data: bytes, headers: dict[str, str] | None = None, **fields: Any
) -> Any:
    body = {
        "dataset": "flights",
        "filename": "flights.csv",
        "content_type": "text/csv",
        "size_bytes": len(data),
        **fields,
    }
    return pipeline.client.http.post(
        "/uploads",
        headers={**pipeline.auth, "Content-Type": "application/json", **(headers or {})},
        body=json.dumps(body),
    )


def _upload(pipeline: Pipeline, data: bytes, **fields: Any) -> dict[str, Any]:
    answer = _declare(pipeline, data, **fields)
    assert answer.status_code == 201, answer.body
    ticket: dict[str, Any] = answer.json_body
    send_to_ticket(ticket, data)
    return ticket


def test_an_uploaded_file_goes_through_s3_eventbridge_and_sqs_to_a_finished_batch(
    pipeline: Pipeline,
):
    data = csv_body(HEADER, ROWS[:300] + BROKEN).encode()

    ticket = _upload(pipeline, data)
    pending = pipeline.get(f"/batches/{ticket['batch_id']}")
    batch = pipeline.wait(ticket["batch_id"])

    assert pending.status_code == 404
    assert pending.json_body["code"] == "upload_pending"
    assert ticket["key"].startswith(f"uploads/{ticket['batch_id']}/")
    assert batch["status"] == "COMPLETED_WITH_REJECTS", batch["error"]
    assert (batch["source"], batch["filename"], batch["size_bytes"]) == (
        "upload",
        "flights.csv",
        len(data),
    )
    assert batch["counts"] == {
        "received": 300 + len(BROKEN),
        "processed": 300,
        "rejected": len(BROKEN),
        "failed": 0,
    }
    assert batch["raw_key"] == ticket["key"]
    lines = [r["lineage"]["line"] for r in pipeline.processed_lines(ticket["batch_id"])]
    assert sorted(lines) == list(range(2, 302))


def test_a_duplicate_s3_event_starts_nothing_and_counts_nothing_twice(pipeline: Pipeline):
    data = csv_body(HEADER, ROWS[:20]).encode()
    ticket = _upload(pipeline, data)
    sqs = pipeline.aws["sqs"]
    queue = pipeline.outputs["IngestQueueUrl"]
    event = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=0)
    [message] = event["Messages"]
    sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])  # S3 said it twice

    assert pipeline.start_queued() == 2
    batch = pipeline.wait(ticket["batch_id"])

    assert batch["status"] == "SUCCEEDED"
    assert batch["counts"]["received"] == batch["counts"]["processed"] == 20
    executions = pipeline.aws["stepfunctions"].list_executions(
        stateMachineArn=pipeline.outputs["StateMachineArn"]
    )["executions"]
    assert [e["name"] for e in executions] == [ticket["batch_id"]]
    assert len(pipeline.processed_lines(ticket["batch_id"])) == 20
    assert [b["batch_id"] for b in pipeline.get("/batches").json_body["batches"]] == [
        ticket["batch_id"]
    ]


def test_a_gzip_upload_and_a_gzip_body_are_read_like_plain_ones(pipeline: Pipeline):
    data = csv_body(HEADER, ROWS[:50]).encode()
    packed = gzip.compress(data)

    uploaded = pipeline.wait(_upload(pipeline, packed, content_encoding="gzip")["batch_id"])
    posted = pipeline.post(packed, headers={"Content-Encoding": "gzip"})
    assert posted.status_code == 202, posted.body
    assert posted.json_body["records_received"] == 50
    direct = pipeline.wait(posted.json_body["batch_id"])

    for batch in (uploaded, direct):
        assert batch["status"] == "SUCCEEDED", batch["error"]
        assert batch["content_encoding"] == "gzip"
        assert batch["counts"]["processed"] == 50
        assert batch["raw_key"].endswith(".csv.gz")


def test_a_wrong_header_ends_failed_with_its_code_and_line_and_nothing_processed(
    pipeline: Pipeline,
):
    data = csv_body(HEADER.replace("carrier", "airline"), ROWS[:10]).encode()

    batch = pipeline.wait(_upload(pipeline, data)["batch_id"])

    assert batch["status"] == "FAILED"
    assert (batch["error"]["type"], batch["error"]["code"], batch["error"]["line"]) == (
        "SourceFormatError",
        "header_mismatch",
        1,
    )
    assert "airline" in batch["error"]["message"]
    assert batch["counts"] == {"received": 0, "processed": 0, "rejected": 0, "failed": 0}
    assert pipeline.processed_lines(batch["batch_id"]) == []


def test_a_file_that_is_not_utf8_fails_at_its_line_and_an_empty_one_says_so(pipeline: Pipeline):
    latin = csv_body(HEADER, ROWS[:3]).encode() + "2013,1,1,Zürich\n".encode("latin-1")
    empty = b"\n\n"

    broken = pipeline.wait(_upload(pipeline, latin)["batch_id"])
    nothing = pipeline.wait(_upload(pipeline, empty)["batch_id"])

    assert (broken["status"], broken["error"]["code"], broken["error"]["line"]) == (
        "FAILED",
        "not_utf8",
        5,
    )
    assert (nothing["status"], nothing["error"]["code"]) == ("FAILED", "empty_file")
    assert broken["counts"]["processed"] == nothing["counts"]["processed"] == 0


def test_an_upload_that_is_not_what_it_declared_fails_before_anything_runs(pipeline: Pipeline):
    data = csv_body(HEADER, ROWS[:10]).encode()
    answer = _declare(pipeline, data + b"x")  # declares one byte more than it sends
    ticket = answer.json_body
    send_to_ticket(ticket, data)

    pipeline.start_queued()
    batch = pipeline.get(f"/batches/{ticket['batch_id']}").json_body

    # moto does not enforce the POST policy's content-length-range; S3 would refuse the body.
    assert batch["status"] == "FAILED"
    assert (batch["error"]["type"], batch["error"]["code"]) == (
        "UploadMismatchError",
        "size_mismatch",
    )
    assert batch["execution_arn"] is None
    assert (
        pipeline.aws["stepfunctions"].list_executions(
            stateMachineArn=pipeline.outputs["StateMachineArn"]
        )["executions"]
        == []
    )


def test_an_object_no_upload_was_issued_for_is_ignored(pipeline: Pipeline):
    s3 = pipeline.aws["s3"]
    bucket = pipeline.outputs["RawBucketName"]
    s3.put_object(
        Bucket=bucket, Key="uploads/20990101T000000-abcdef/up-" + "0" * 32 + ".csv", Body=b"x"
    )
    s3.put_object(Bucket=bucket, Key="uploads/not-an-upload.csv", Body=b"x")

    assert pipeline.start_queued() == 2

    assert pipeline.queue_depth("IngestQueueUrl") == 0  # handled (ignored), not retried
    assert pipeline.get("/batches").json_body["batches"] == []


def test_the_same_idempotency_key_resumes_an_upload_then_returns_its_batch(pipeline: Pipeline):
    data = csv_body(HEADER, ROWS[:5]).encode()
    key = {"Idempotency-Key": "upload-resume"}

    first = _declare(pipeline, data, headers=key)
    again = _declare(pipeline, data, headers=key)  # the first upload was interrupted
    send_to_ticket(again.json_body, data)
    batch = pipeline.wait(again.json_body["batch_id"])
    after = _declare(pipeline, data, headers=key)
    other = _declare(pipeline, data + b"\n", headers=key)

    assert (first.status_code, again.status_code, after.status_code) == (201, 201, 200)
    assert first.json_body["batch_id"] == again.json_body["batch_id"] == batch["batch_id"]
    assert first.json_body["key"] == again.json_body["key"]
    assert after.json_body["duplicate"] is True
    assert after.json_body["upload"] is None
    assert other.status_code == 409
    assert len(pipeline.get("/batches").json_body["batches"]) == 1


def test_bad_upload_requests_are_refused_with_a_json_error(pipeline: Pipeline):
    data = b"x" * 10
    cases = {
        "unknown dataset": (_declare(pipeline, data, dataset="trains"), 422),
        "json upload": (_declare(pipeline, data, content_type="application/json"), 415),
        "other type": (_declare(pipeline, data, content_type="image/png"), 415),
        "too big": (_declare(pipeline, data, size_bytes=6 * 1024**3), 413),
        "empty": (_declare(pipeline, data, size_bytes=0), 400),
        "path in name": (_declare(pipeline, data, filename="../etc/passwd"), 400),
        "other encoding": (_declare(pipeline, data, content_encoding="br"), 400),
    }
    for name, (answer, status) in cases.items():
        assert answer.status_code == status, (name, answer.body)
        assert set(answer.json_body) == {"code", "message", "details"}, name
    assert pipeline.table_items("BatchesTableName") == []


def test_a_many_chunk_upload_keeps_every_payload_and_item_small(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, payload_sizes: list[int]
):
    monkeypatch.setenv("SLUICE_CHUNK_SIZE", "4")
    from devserver.runtime import apply_environment

    apply_environment({})
    data = csv_body(HEADER, ROWS[:800]).encode()

    batch = pipeline.wait(_upload(pipeline, data)["batch_id"], timeout=240)

    assert batch["status"] == "SUCCEEDED", batch["error"]
    assert batch["chunks"] == {
        "total": 200,
        "pending": 0,
        "running": 0,
        "stored": 200,
        "failed": 0,
    }
    assert batch["counts"]["processed"] == 800
    history = pipeline.history(batch["execution_arn"])
    states = [
        len(json.dumps(details))
        for event in history
        for name, details in event.items()
        if name.endswith("EventDetails")
    ]
    # Every state's input and output, in the batch's history and in every chunk's task.
    assert max(states) < 4_000, max(states)
    assert len(payload_sizes) >= 4 * 200
    assert max(payload_sizes) < 4_000, max(payload_sizes)
    items = pipeline.table_items("BatchesTableName")
    largest = max(len(json.dumps(item, default=str)) for item in items)
    assert largest < 4_000, largest
