"""A batch through the whole state machine, in-process over moto."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key

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
    assert batch["stages"]["store"]["records_out"] == good

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


def test_processed_records_are_queryable_by_carrier_and_date_and_partitioned_in_s3(
    pipeline: Pipeline,
):
    body, good, _ = _flights_with_broken_rows(200)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])

    items = [i for i in pipeline.table_items("RecordsTableName") if i["status"] == "processed"]
    assert len(items) == good
    carrier, flight_date = Counter(
        (i["record"]["carrier"], i["record"]["flight_date"]) for i in items
    ).most_common(1)[0][0]
    expected = sum(
        1
        for i in items
        if (i["record"]["carrier"], i["record"]["flight_date"]) == (carrier, flight_date)
    )
    table = pipeline.aws["dynamodb"].Table(pipeline.outputs["RecordsTableName"])
    by_index = table.query(
        IndexName="by-index-key",
        KeyConditionExpression=Key("index_pk").eq(f"flights#{carrier}#{flight_date}"),
    )["Items"]
    assert len(by_index) == expected

    keys = pipeline.object_keys("ProcessedBucketName", "processed/dataset=flights/")
    assert keys and all("/date=" in key for key in keys)
    lines = 0
    for key in keys:
        obj = pipeline.aws["s3"].get_object(Bucket=pipeline.outputs["ProcessedBucketName"], Key=key)
        for line in obj["Body"].read().splitlines():
            staged = json.loads(line)
            assert f"date={staged['record']['flight_date']}/" in key
            lines += 1
    assert lines == good == batch["counts"]["processed"]


def test_many_chunks_fan_out_and_add_up(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SLUICE_CHUNK_SIZE", "64")
    from devserver.runtime import apply_environment

    apply_environment({})
    body, good, broken = _flights_with_broken_rows(1000)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])

    assert batch["chunks_total"] == -(-(good + broken) // 64)
    assert batch["stages"]["store"]["chunks_done"] == batch["chunks_total"]
    assert batch["counts"]["processed"] + batch["counts"]["rejected"] == good + broken
    history = pipeline.history(batch["execution_arn"])
    map_started = next(e for e in history if e["type"] == "MapStateStarted")
    assert map_started["mapStateStartedEventDetails"]["length"] == batch["chunks_total"]
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
    assert {
        "Split",
        "ProcessChunks",
        "Validate",
        "Transform",
        "Enrich",
        "Store",
        "Finalize",
    } <= entered
    assert "PublishOutcome" in entered
    assert "MarkFailed" not in entered


def test_a_retried_store_writes_no_duplicates(pipeline: Pipeline):
    body, good, broken = _flights_with_broken_rows(100)
    batch = pipeline.wait(pipeline.post(body).json_body["batch_id"])
    store_input = next(
        json.loads(e["lambdaFunctionScheduledEventDetails"]["input"])
        for e in pipeline.history(batch["execution_arn"])
        if e["type"] == "LambdaFunctionScheduled"
        and e["lambdaFunctionScheduledEventDetails"]["resource"].endswith(":sluice-dev-store")
    )
    items_before = len(pipeline.table_items("RecordsTableName"))
    objects_before = pipeline.object_keys("ProcessedBucketName")

    result = pipeline.client.lambda_.invoke("store", store_input)

    assert result.payload["processed"] == good
    assert items_before == good + broken
    assert len(pipeline.table_items("RecordsTableName")) == items_before
    assert pipeline.object_keys("ProcessedBucketName") == objects_before


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
