"""Retrying what failed: failed chunks run again (once, twice, or the chosen) to exact totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from devserver.runtime import apply_environment
from shared.objects import chunk_key
from tests.functional.readings_dataset import readings_csv

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline


@pytest.fixture
def two_record_chunks(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setenv("SLUICE_CHUNK_SIZE", "2")
    apply_environment({})
    return pipeline


def _post(pipeline: Pipeline, *sensors: str) -> dict[str, Any]:
    accepted = pipeline.post(readings_csv(*sensors), query="?dataset=readings").json_body
    return pipeline.wait(accepted["batch_id"])


def _retry(pipeline: Pipeline, batch_id: str, body: Any = None) -> Any:
    return pipeline.post_json(f"/batches/{batch_id}/retry", body)


def _stored_lines(pipeline: Pipeline, batch_id: str) -> list[int]:
    return sorted(r["lineage"]["line"] for r in pipeline.processed_lines(batch_id))


def test_a_failed_chunk_retried_ends_succeeded_with_exact_totals(
    two_record_chunks: Pipeline, broken: set[str]
):
    pipeline = two_record_chunks
    broken.add("S9")
    batch = _post(pipeline, "S1", "S2", "S9", "S1", "S2")
    batch_id = batch["batch_id"]
    assert batch["status"] == "FAILED"
    assert batch["counts"] == {"received": 5, "processed": 3, "rejected": 0, "failed": 2}
    # The chunk's object expired meanwhile: the retry cuts it again from the raw object.
    pipeline.aws["s3"].delete_object(
        Bucket=pipeline.outputs["ProcessedBucketName"], Key=chunk_key(batch_id, 1, "raw")
    )
    broken.clear()

    response = _retry(pipeline, batch_id)

    assert response.status_code == 202, response.json_body
    accepted = response.json_body
    assert accepted["run"] == 1
    assert accepted["kind"] == "retry"
    assert accepted["execution_name"] == f"{batch_id}-r1"
    retried = pipeline.wait(batch_id)
    assert retried["status"] == "SUCCEEDED"
    assert retried["counts"] == {"received": 5, "processed": 5, "rejected": 0, "failed": 0}
    assert retried["chunks"]["stored"] == 3
    assert retried["chunks"]["failed"] == 0
    assert retried["error"] is None
    assert retried["execution_arn"].endswith(f":{batch_id}-r1")
    runs = retried["runs"]
    assert [(r["run"], r["kind"], r["status"]) for r in runs] == [
        (0, "initial", "FAILED"),
        (1, "retry", "SUCCEEDED"),
    ]
    assert runs[1]["requested_by"] == "functional tests"
    # Each record is stored exactly once: none lost, none written twice.
    assert _stored_lines(pipeline, batch_id) == [2, 3, 4, 5, 6]
    # Only the failed chunk ran again.
    chunks = pipeline.get(f"/batches/{batch_id}/chunks").json_body["chunks"]
    assert [(c["index"], c["status"], c["run"]) for c in chunks] == [
        (0, "stored", 0),
        (1, "stored", 1),
        (2, "stored", 0),
    ]
    assert chunks[1]["failed_attempts"] == {"transform": 1}
    # Both runs' executions are kept, and the retry is in the audit trail.
    sfn = pipeline.aws["stepfunctions"]
    assert sfn.describe_execution(executionArn=runs[0]["execution_arn"])["status"] == "FAILED"
    audit = pipeline.get_context_audit(batch_id)
    assert [(a.action, a.actor) for a in audit] == [("retry", "functional tests")]


def test_a_retry_of_a_retry_and_a_retry_of_chosen_chunks(
    two_record_chunks: Pipeline, broken: set[str]
):
    pipeline = two_record_chunks
    broken.update({"B1", "B2"})
    batch = _post(pipeline, "S1", "B1", "S2", "S1", "B2", "S2", "S1")
    batch_id = batch["batch_id"]
    assert batch["counts"] == {"received": 7, "processed": 3, "rejected": 0, "failed": 4}
    assert batch["chunks"]["failed"] == 2

    # Only chunk 0 is chosen, and it is still broken: it fails again; chunk 2 is untouched.
    first = _retry(pipeline, batch_id, {"chunks": [0]})
    assert first.status_code == 202, first.json_body
    after_first = pipeline.wait(batch_id)
    assert after_first["status"] == "FAILED"
    assert after_first["counts"] == {"received": 7, "processed": 3, "rejected": 0, "failed": 4}

    broken.discard("B1")
    second = _retry(pipeline, batch_id, {"chunks": [0]})
    assert second.json_body["run"] == 2
    after_second = pipeline.wait(batch_id)
    assert after_second["status"] == "FAILED"
    assert after_second["counts"] == {"received": 7, "processed": 5, "rejected": 0, "failed": 2}
    failed = pipeline.get(f"/batches/{batch_id}/chunks?status=failed").json_body["chunks"]
    assert [c["index"] for c in failed] == [2]

    broken.clear()
    third = _retry(pipeline, batch_id)
    assert third.json_body["run"] == 3
    done = pipeline.wait(batch_id)
    assert done["status"] == "SUCCEEDED"
    assert done["counts"] == {"received": 7, "processed": 7, "rejected": 0, "failed": 0}
    assert [r["status"] for r in done["runs"]] == ["FAILED", "FAILED", "FAILED", "SUCCEEDED"]
    assert [r["chunks"] for r in done["runs"]] == [None, [0], [0], None]
    assert _stored_lines(pipeline, batch_id) == [2, 3, 4, 5, 6, 7, 8]


def test_a_retry_is_refused_when_there_is_nothing_to_retry(
    two_record_chunks: Pipeline, broken: set[str]
):
    pipeline = two_record_chunks
    done = _post(pipeline, "S1", "S2", "S1")
    refused = _retry(pipeline, done["batch_id"])
    assert refused.status_code == 409
    assert refused.json_body["code"] == "nothing_to_retry"

    queued = pipeline.post(readings_csv("S1"), query="?dataset=readings").json_body["batch_id"]
    running = _retry(pipeline, queued)
    assert running.status_code == 409
    assert running.json_body["code"] == "batch_running"
    pipeline.wait(queued)

    assert _retry(pipeline, "no-such-batch").status_code == 404

    broken.add("S9")
    failed = _post(pipeline, "S1", "S2", "S9", "S1")
    batch_id = failed["batch_id"]
    unknown = _retry(pipeline, batch_id, {"chunks": [7]})
    assert unknown.status_code == 422
    assert unknown.json_body["code"] == "unknown_chunk"
    stored = _retry(pipeline, batch_id, {"chunks": [0, 1]})
    assert stored.status_code == 422
    assert stored.json_body["code"] == "chunk_not_failed"
    assert stored.json_body["details"] == [{"chunk": 0, "problem": "chunk_not_failed"}]
    malformed = _retry(pipeline, batch_id, {"chunks": "all"})
    assert malformed.status_code == 400
    # None of the refusals changed the batch.
    again = pipeline.get(f"/batches/{batch_id}").json_body
    assert again["status"] == "FAILED"
    assert len(again["runs"]) == 1
