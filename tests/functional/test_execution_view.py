"""``GET /batches/{id}/execution``: the ASL and what happened to each state, for the graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devserver.runtime import apply_environment
from tests.functional.conftest import Pipeline, csv_body, csv_rows

if TYPE_CHECKING:
    import pytest


def test_a_finished_batch_shows_every_state_it_ran(pipeline: Pipeline):
    header, rows = csv_rows("flights_1000.csv")
    batch = pipeline.wait(pipeline.post(csv_body(header, rows[:20])).json_body["batch_id"])

    view = pipeline.get(f"/batches/{batch['batch_id']}/execution").json_body

    assert view["status"] == "SUCCEEDED"
    assert set(view["definition"]["States"]) >= {"Split", "ProcessChunks", "Finalize"}
    states = view["states"]
    ran = {"Split", "ProcessChunks", "Validate", "Transform", "Enrich", "Store", "Finalize"}
    assert {name for name, s in states.items() if s["status"] == "SUCCEEDED"} >= ran
    assert states["MarkFailed"]["status"] == "NOT_STARTED"
    assert states["Split"]["duration_ms"] is not None
    assert states["Validate"]["attempts"] == 1
    assert any(e["type"] == "ExecutionSucceeded" for e in view["events"])


def test_a_caught_chunk_and_a_retry_show_on_their_states(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SLUICE_CHUNK_SIZE", "1")
    apply_environment({})
    body = "sensor,taken_at,celsius\nS1,2024-05-01T10:00:00Z,20\nEXPLODE,2024-05-01T11:00:00Z,20\n"
    body += "FLAKY-VIEW,2024-05-01T12:00:00Z,20\n"
    batch = pipeline.wait(pipeline.post(body, query="?dataset=readings").json_body["batch_id"])

    states = pipeline.get(f"/batches/{batch['batch_id']}/execution").json_body["states"]

    assert states["Transform"]["status"] == "CAUGHT"
    assert states["Transform"]["entered"] == 3
    assert states["Transform"]["caught"] == 1
    assert states["Transform"]["attempts"] == 4  # one retry of the flaky chunk
    assert states["Transform"]["error"] in {"ValueError", "TransientError"}
    assert states["RecordChunkFailure"]["status"] == "SUCCEEDED"
    assert states["BatchFailed"]["status"] == "FAILED"
    assert states["BatchDone"]["status"] == "NOT_STARTED"


def test_a_batch_not_started_has_no_execution_yet(pipeline: Pipeline):
    header, rows = csv_rows("flights_1000.csv")
    batch_id = pipeline.post(csv_body(header, rows[:1])).json_body["batch_id"]

    answer = pipeline.get(f"/batches/{batch_id}/execution")

    assert answer.status_code == 404
    assert "not started" in answer.json_body["message"]
