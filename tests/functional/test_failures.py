"""The failure paths: retries, a failed chunk, a failed batch, the dead-letter queue."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from devserver.runtime import apply_environment
from tests.functional.readings_dataset import readings_csv

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline


def _dead_letters(pipeline: Pipeline) -> list[dict[str, object]]:
    sqs = pipeline.aws["sqs"]
    messages = sqs.receive_message(
        QueueUrl=pipeline.outputs["PipelineDeadLetterQueueUrl"], MaxNumberOfMessages=10
    ).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def two_record_chunks(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setenv("SLUICE_CHUNK_SIZE", "2")
    apply_environment({})
    return pipeline


def test_a_failed_chunk_is_accounted_and_the_other_chunks_finish(two_record_chunks: Pipeline):
    pipeline = two_record_chunks
    body = readings_csv("S1", "S2", "EXPLODE", "S1", "S2")

    batch = pipeline.wait(pipeline.post(body, query="?dataset=readings").json_body["batch_id"])

    assert batch["status"] == "FAILED"
    assert batch["counts"] == {"received": 5, "processed": 3, "rejected": 0, "failed": 2}
    assert batch["chunks_failed"] == 1
    assert batch["error"]["type"] == "ValueError"
    assert batch["error"]["chunk"] == 1
    assert "1 of 3 chunks failed" in batch["error"]["message"]
    failed = pipeline.get(f"/batches/{batch['batch_id']}/chunks?status=failed").json_body
    assert [(c["index"], c["failed"], c["failed_stage"]) for c in failed["chunks"]] == [
        (1, 2, "transform")
    ]
    assert failed["chunks"][0]["error"]["message"] == "the EXPLODE sensor breaks transform"
    listed = pipeline.get(f"/batches/{batch['batch_id']}/chunks").json_body["chunks"]
    assert [(c["status"], c["partitions_written"]) for c in listed] == [
        ("stored", 1),
        ("failed", 0),
        ("stored", 1),
    ]
    assert all("partitions" not in c for c in listed)
    detail = pipeline.get(f"/batches/{batch['batch_id']}/chunks/0").json_body
    assert [p["records"] for p in detail["chunk"]["partitions"]] == [2]
    assert detail["execution"] is None  # locally the chunk ran in the batch's own execution
    # Nothing of the failed chunk is stored: its other record is not in the bucket either.
    assert sorted(r["lineage"]["line"] for r in pipeline.processed_lines(batch["batch_id"])) == [
        2,
        3,
        6,
    ]
    history = pipeline.history(batch["execution_arn"])
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert "SendToDeadLetterQueue" in entered
    assert history[-1]["type"] == "ExecutionFailed"
    assert [d["batch_id"] for d in _dead_letters(pipeline)] == [batch["batch_id"]]
    assert [e["event_type"] for e in pipeline.events()] == ["BatchFailed"]


def test_a_transient_error_is_retried_by_the_state_machine(pipeline: Pipeline):
    body = readings_csv("FLAKY-RETRY", "S1")

    batch = pipeline.wait(pipeline.post(body, query="?dataset=readings").json_body["batch_id"])

    assert batch["status"] == "SUCCEEDED", batch["error"]
    assert batch["counts"]["processed"] == 2
    transform = batch["stages"]["transform"]
    assert (transform["failed_attempts"], transform["last_error"]) == (1, "TransientError")
    assert transform["chunks_caught"] == 0


def test_a_batch_whose_raw_object_vanished_fails_with_its_reason(pipeline: Pipeline):
    accepted = pipeline.post(readings_csv("S1", "S2"), query="?dataset=readings").json_body
    batch = pipeline.get(f"/batches/{accepted['batch_id']}").json_body
    pipeline.aws["s3"].delete_object(Bucket=pipeline.outputs["RawBucketName"], Key=batch["raw_key"])

    batch = pipeline.wait(accepted["batch_id"])

    assert batch["status"] == "FAILED"
    assert batch["error"]["type"] == "ChunkObjectMissingError"
    assert batch["raw_key"] in batch["error"]["message"]
    assert batch["counts"] == {"received": 2, "processed": 0, "rejected": 0, "failed": 2}
    assert [d["batch_id"] for d in _dead_letters(pipeline)] == [accepted["batch_id"]]
    assert [e["event_type"] for e in pipeline.events()] == ["BatchFailed"]
