"""A batch through the whole state machine, in-process over moto."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from shared.objects import chunk_key, manifest_key
from tests.functional.conftest import Pipeline, csv_body, csv_rows

if TYPE_CHECKING:
    import pytest


def _flights_with_broken_rows(count: int = 1000) -> tuple[str, int, int]:
    header, good = csv_rows("flights_1000.csv")
    _, broken = csv_rows("flights_broken.csv")
    return csv_body(header, good[:count] + broken), count, len(broken)


def test_real_flights_complete_with_rejects_and_come_out_enriched(pipeline: Pipeline):
    body, good, broken = _flights_with_broken_rows()

    answer = pipeline.post(body)
    assert answer.status_code == 202, answer.body
    accepted = answer.json_body
    assert accepted["records_received"] == good + broken
    batch = pipeline.wait(accepted["batch_id"])

    assert batch["status"] == "COMPLETED_WITH_REJECTS", batch["error"]
    assert batch["counts"] == {
        "received": good + broken,
        "processed": good,
        "rejected": broken,
        "failed": 0,
    }
    assert set(batch["stages"]) == {"validate", "transform", "enrich", "store"}
    assert batch["stages"]["validate"]["rejected"] == broken
    assert batch["stages"]["store"]["processed"] == good

    rejects = pipeline.get(
        f"/batches/{batch['batch_id']}/records?status=rejected&limit=200"
    ).json_body["records"]
    assert len(rejects) == broken
    assert all(
        r["reasons"] and {"field", "rule", "message"} <= set(r["reasons"][0]) for r in rejects
    )
    impossible_date = next(
        r for r in rejects if r["values"]["month"] == "2" and r["values"]["day"] == "30"
    )
    assert "invalid_date" in {reason["rule"] for reason in impossible_date["reasons"]}

    processed = pipeline.get(f"/batches/{batch['batch_id']}/records?limit=200").json_body["records"]
    first = processed[0]["record"]
    assert first["carrier_info"]["name"]
    assert first["origin_airport"]["name"]
    assert any(p["record"]["weather"] for p in processed)
    lineage = processed[0]["lineage"]
    assert lineage["source_key"] == batch["raw_key"]
    assert lineage["execution_arn"] == batch["execution_arn"]
    assert all(lineage[f"{s}_at"] for s in ("validated", "transformed", "enriched", "stored"))


def test_processed_records_are_partitioned_by_date_and_queryable_by_date_and_carrier(
    pipeline: Pipeline,
):
    body, good, _ = _flights_with_broken_rows(200)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])

    stored = pipeline.processed_lines(batch["batch_id"])
    assert len(stored) == good == batch["counts"]["processed"]
    keys = pipeline.object_keys("ProcessedBucketName", "processed/dataset=flights/")
    assert keys and all("/date=" in key for key in keys)
    for key in keys:
        obj = pipeline.aws["s3"].get_object(Bucket=pipeline.outputs["ProcessedBucketName"], Key=key)
        for line in obj["Body"].read().splitlines():
            assert f"date={json.loads(line)['record']['flight_date']}/" in key
    # Processed records are not in DynamoDB any more: the records table holds rejects only.
    assert {i["status"] for i in pipeline.table_items("RecordsTableName")} == {"rejected"}

    carrier, flight_date = Counter(
        (r["record"]["carrier"], r["record"]["flight_date"]) for r in stored
    ).most_common(1)[0][0]
    expected = sorted(
        r["lineage"]["line"]
        for r in stored
        if (r["record"]["carrier"], r["record"]["flight_date"]) == (carrier, flight_date)
    )
    found: list[int] = []
    path = f"/datasets/flights/records?date={flight_date}&carrier={carrier}&limit=7"
    while path:
        page = pipeline.get(path).json_body
        assert all(r["record"]["carrier"] == carrier for r in page["records"])
        found.extend(r["lineage"]["line"] for r in page["records"])
        path = f"{path.split('&next=')[0]}&next={page['next']}" if page["next"] else ""
    assert sorted(found) == expected


def test_many_chunks_fan_out_and_add_up(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SLUICE_CHUNK_SIZE", "64")
    from devserver.runtime import apply_environment

    apply_environment({})
    body, good, broken = _flights_with_broken_rows(1000)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])

    assert batch["chunks_total"] == -(-(good + broken) // 64)
    assert batch["stages"]["store"]["chunks_done"] == batch["chunks_total"]
    assert batch["chunks"]["stored"] == batch["chunks_total"]
    assert batch["counts"]["processed"] + batch["counts"]["rejected"] == good + broken
    view = pipeline.get(f"/batches/{batch['batch_id']}/execution").json_body
    [map_run] = view["map_runs"]
    assert map_run["item_counts"]["succeeded"] == batch["chunks_total"]
    history = pipeline.history(batch["execution_arn"])
    # Claim check: no state input or output carries records, whatever the batch size.
    largest = max(
        len(json.dumps(details))
        for e in history
        for name, details in e.items()
        if name.endswith("EventDetails")
    )
    assert largest < 32_000


def test_outcome_is_published_on_the_events_topic(pipeline: Pipeline):
    body, good, broken = _flights_with_broken_rows(50)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])

    events = pipeline.events()
    assert [(e["event_type"], e["batch_id"]) for e in events] == [
        ("BatchCompletedWithRejects", batch["batch_id"])
    ]
    assert events[0]["counts"]["rejected"] == broken


def test_execution_history_shows_every_stage(pipeline: Pipeline):
    body, _, _ = _flights_with_broken_rows(20)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])

    entered = {
        e["stateEnteredEventDetails"]["name"]
        for e in pipeline.history(batch["execution_arn"])
        if "stateEnteredEventDetails" in e
    }
    assert {"Split", "ProcessChunks", "Finalize", "PublishOutcome"} <= entered
    assert "MarkFailed" not in entered
    # The chunks ran as Map Run children: their stages are the ledger's, on the execution view.
    states = pipeline.get(f"/batches/{batch['batch_id']}/execution").json_body["states"]
    for stage in ("Validate", "Transform", "Enrich", "Store"):
        assert (states[stage]["status"], states[stage]["entered"]) == ("SUCCEEDED", 1), stage


def test_a_retried_store_writes_no_duplicates(pipeline: Pipeline):
    body, good, broken = _flights_with_broken_rows(100)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])
    manifest = pipeline.aws["s3"].get_object(
        Bucket=pipeline.outputs["ProcessedBucketName"], Key=manifest_key(batch["batch_id"])
    )
    [chunk] = json.loads(manifest["Body"].read())
    store_input = {
        "batch_id": batch["batch_id"],
        "dataset": "flights",
        "execution_arn": batch["execution_arn"],
        "source_key": batch["raw_key"],
        "chunk": chunk,
        "current_key": chunk_key(batch["batch_id"], 0, "enriched"),
        "rejected": broken,
    }
    items_before = len(pipeline.table_items("RecordsTableName"))
    objects_before = pipeline.object_keys("ProcessedBucketName")

    result = pipeline.client.lambda_.invoke("store", store_input)

    assert result.payload["processed"] == good
    assert items_before == broken
    assert len(pipeline.table_items("RecordsTableName")) == items_before
    assert pipeline.object_keys("ProcessedBucketName") == objects_before
    assert len(pipeline.processed_lines(batch["batch_id"])) == good
    assert pipeline.get(f"/batches/{batch['batch_id']}").json_body["counts"] == batch["counts"]


def test_second_dataset_runs_through_the_same_pipeline(pipeline: Pipeline):
    body = "sensor,taken_at,celsius\nS1,2024-05-01T10:00:00Z,21.5\nS9,2024-05-01T11:00:00Z,19\n"

    batch = pipeline.wait(pipeline.post(body, query="?dataset=readings").json_body["batch_id"])

    assert batch["status"] == "SUCCEEDED"
    records = pipeline.get(f"/batches/{batch['batch_id']}/records").json_body["records"]
    assert [(r["record"]["site"], r["record"]["fahrenheit"]) for r in records] == [
        ("Roof", 70.7),
        (None, 66.2),
    ]
    assert records[1]["record"]["gaps"] == ["site"]
