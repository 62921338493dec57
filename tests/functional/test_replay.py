"""Fixing and replaying rejects, and the lineage of one record (stored, rejected, replayed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.functional.conftest import csv_body, csv_rows

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline

# Line 5 has day 30 of February; line 6 month 13: both rejected, the rest stored.
GOOD = 3


def _batch_with_rejects(pipeline: Pipeline) -> dict[str, Any]:
    header, flights = csv_rows("flights_1000.csv")
    _, broken = csv_rows("flights_broken.csv")
    body = csv_body(header, [*flights[:GOOD], broken[0], broken[1]])
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])
    assert batch["status"] == "COMPLETED_WITH_REJECTS"
    assert batch["counts"] == {"received": 5, "processed": 3, "rejected": 2, "failed": 0}
    return batch


def _rejects(pipeline: Pipeline, batch_id: str) -> dict[int, dict[str, Any]]:
    page = pipeline.get(f"/batches/{batch_id}/records?status=rejected").json_body
    return {r["line"]: r for r in page["records"]}


def _fixed(reject: dict[str, Any], **changes: str) -> dict[str, Any]:
    return {"line": reject["line"], "values": {**reject["values"], **changes}}


def test_edited_rejects_replay_as_a_child_batch_linked_both_ways(pipeline: Pipeline):
    parent = _batch_with_rejects(pipeline)
    parent_id = parent["batch_id"]
    rejects = _rejects(pipeline, parent_id)
    assert sorted(rejects) == [5, 6]

    response = pipeline.post_json(
        f"/batches/{parent_id}/replay",
        {"records": [_fixed(rejects[6], month="1"), _fixed(rejects[5], day="28")]},
        headers={"Idempotency-Key": "fix-1"},
    )

    assert response.status_code == 202, response.json_body
    accepted = response.json_body
    assert accepted["parent_batch_id"] == parent_id
    assert accepted["lines"] == [5, 6]
    assert accepted["duplicate"] is False
    child = pipeline.wait(accepted["batch_id"])
    assert child["status"] == "SUCCEEDED"
    assert child["counts"] == {"received": 2, "processed": 2, "rejected": 0, "failed": 0}
    assert child["replay_of"] == {"batch_id": parent_id, "lines": [5, 6]}
    # The child's records name the parent's batch and line in their lineage.
    stored = pipeline.processed_lines(child["batch_id"])
    assert sorted((r["lineage"]["line"], r["lineage"]["replay_of"]["line"]) for r in stored) == [
        (1, 5),
        (2, 6),
    ]
    assert {r["lineage"]["replay_of"]["batch_id"] for r in stored} == {parent_id}
    # The parent keeps its rejects (original values and reasons), marked replayed.
    after = _rejects(pipeline, parent_id)
    assert after[5]["values"] == rejects[5]["values"]
    assert after[5]["reasons"] == rejects[5]["reasons"]
    assert after[5]["replayed_to"]["batch_id"] == child["batch_id"]
    assert after[6]["replayed_to"]["line"] == 2
    assert after[6]["replayed_to"]["by"] == "functional tests"
    again = pipeline.get(f"/batches/{parent_id}").json_body
    assert [(r["batch_id"], r["records"]) for r in again["replays"]] == [(child["batch_id"], 2)]
    assert again["counts"] == parent["counts"]

    # The same edits again (same key) make no second child.
    repeat = pipeline.post_json(
        f"/batches/{parent_id}/replay",
        {"records": [_fixed(rejects[6], month="1"), _fixed(rejects[5], day="28")]},
        headers={"Idempotency-Key": "fix-1"},
    )
    assert repeat.status_code == 200
    assert repeat.json_body["batch_id"] == child["batch_id"]
    assert repeat.json_body["duplicate"] is True
    assert len(pipeline.get(f"/batches/{parent_id}").json_body["replays"]) == 1
    # Other edits of rejects that were replayed are refused.
    other = pipeline.post_json(
        f"/batches/{parent_id}/replay", {"records": [_fixed(rejects[5], day="27")]}
    )
    assert other.status_code == 409
    assert other.json_body["code"] == "already_replayed"


def test_still_invalid_edits_are_refused_with_reasons_unless_partial(pipeline: Pipeline):
    parent = _batch_with_rejects(pipeline)
    parent_id = parent["batch_id"]
    rejects = _rejects(pipeline, parent_id)
    batches_before = len(pipeline.get("/batches").json_body["batches"])
    edits = {"records": [_fixed(rejects[5], day="28"), _fixed(rejects[6], month="14")]}

    refused = pipeline.post_json(f"/batches/{parent_id}/replay", edits)

    assert refused.status_code == 422
    assert refused.json_body["code"] == "still_invalid"
    [detail] = refused.json_body["details"]
    assert detail["line"] == 6
    assert [r["field"] for r in detail["reasons"]] == ["month"]
    assert len(pipeline.get("/batches").json_body["batches"]) == batches_before
    assert "replayed_to" not in _rejects(pipeline, parent_id)[5]

    partial = pipeline.post_json(f"/batches/{parent_id}/replay", {**edits, "partial": True})
    assert partial.status_code == 202, partial.json_body
    assert partial.json_body["lines"] == [5]
    assert [s["line"] for s in partial.json_body["still_invalid"]] == [6]
    child = pipeline.wait(partial.json_body["batch_id"])
    assert child["counts"] == {"received": 1, "processed": 1, "rejected": 0, "failed": 0}
    after = _rejects(pipeline, parent_id)
    assert after[5]["replayed_to"]["batch_id"] == child["batch_id"]
    assert "replayed_to" not in after[6]

    not_a_reject = pipeline.post_json(
        f"/batches/{parent_id}/replay", {"records": [{"line": 2, "values": {}}]}
    )
    assert not_a_reject.status_code == 422
    assert not_a_reject.json_body["code"] == "not_a_reject"
    assert pipeline.post_json(f"/batches/{parent_id}/replay", {"records": []}).status_code == 400


def test_the_lineage_of_a_stored_a_rejected_and_a_replayed_record(pipeline: Pipeline):
    parent = _batch_with_rejects(pipeline)
    parent_id = parent["batch_id"]
    rejects = _rejects(pipeline, parent_id)

    stored = pipeline.get(f"/batches/{parent_id}/records/2").json_body
    assert stored["state"] == "processed"
    assert stored["raw"]["carrier"] == csv_rows("flights_1000.csv")[1][0].split(",")[9]
    assert stored["source"]["kind"] == "request"
    assert stored["source"]["raw_key"] == parent["raw_key"]
    assert stored["run"]["execution_arn"] == parent["execution_arn"]
    assert stored["chunk"]["index"] == 0
    assert all(
        stored["stages"][f] for f in ("validated_at", "transformed_at", "enriched_at", "stored_at")
    )
    assert stored["stored"]["key"].startswith("processed/dataset=flights/date=")
    assert stored["stored"]["position"] == 0
    assert stored["record"]["carrier"] == stored["raw"]["carrier"]
    assert stored["reasons"] is None

    rejected = pipeline.get(f"/batches/{parent_id}/records/6").json_body
    assert rejected["state"] == "rejected"
    assert rejected["raw"] == rejects[6]["values"]
    assert [r["field"] for r in rejected["reasons"]] == ["month"]
    assert rejected["stored"] is None
    assert rejected["stages"]["validated_at"] and not rejected["stages"]["stored_at"]

    child_id = pipeline.post_json(
        f"/batches/{parent_id}/replay", {"records": [_fixed(rejects[6], month="1")]}
    ).json_body["batch_id"]
    pipeline.wait(child_id)
    replayed = pipeline.get(f"/batches/{parent_id}/records/6").json_body
    assert replayed["replayed_to"] == {"batch_id": child_id, "line": 1}
    in_child = pipeline.get(f"/batches/{child_id}/records/1").json_body
    assert in_child["state"] == "processed"
    assert in_child["replayed_from"] == {"batch_id": parent_id, "line": 6}
    assert in_child["raw"]["month"] == "1"

    assert pipeline.get(f"/batches/{parent_id}/records/99").status_code == 404
    assert pipeline.get(f"/batches/{parent_id}/records/x").status_code == 404
