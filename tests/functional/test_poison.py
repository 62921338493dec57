"""Poison records: one record over a limit is rejected on its own; its chunk and batch go on."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shared.limits import MAX_FIELDS, MAX_KEPT_FIELDS, MAX_KEPT_VALUE_CHARS
from tests.functional.conftest import csv_rows

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline


def _flights(count: int) -> list[dict[str, Any]]:
    header, rows = csv_rows("flights_1000.csv")
    names = header.split(",")
    return [dict(zip(names, row.split(","), strict=True)) for row in rows[:count]]


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"in": value}
    return value


def _post_json(pipeline: Pipeline, records: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"dataset": "flights", "records": records})
    accepted = pipeline.post(body, content_type="application/json", query="")
    assert accepted.status_code == 202, accepted.json_body
    return pipeline.wait(accepted.json_body["batch_id"])


def test_poison_records_are_rejected_with_reasons_and_the_rest_is_stored(pipeline: Pipeline):
    good = _flights(996)
    base = good[0]
    poison = [
        {**base, "tailnum": "N" * 300_000},  # one enormous field
        {**base, **{f"extra_{i}": "x" for i in range(3_000)}},  # thousands of fields
        {**base, "notes": _nested(40)},  # deeper than any store nests
        {**base, "tailnum": "N1\x002"},  # a NUL
        {**base, "flight": int("7" * 45)},  # more digits than DynamoDB keeps
    ]
    records = good[:500] + poison + good[500:]

    batch = _post_json(pipeline, records)

    assert batch["status"] == "COMPLETED_WITH_REJECTS", batch["error"]
    assert batch["counts"] == {"received": 1001, "processed": 996, "rejected": 5, "failed": 0}
    assert batch["chunks"]["failed"] == 0
    page = pipeline.get(f"/batches/{batch['batch_id']}/records?status=rejected").json_body
    rejects = {r["line"]: r for r in page["records"]}
    assert sorted(rejects) == [501, 502, 503, 504, 505]
    rules = {line: {(x["field"], x["rule"]) for x in r["reasons"]} for line, r in rejects.items()}
    assert {("record", "record_too_large"), ("tailnum", "field_too_large")} <= rules[501]
    assert ("record", "too_many_fields") in rules[502]
    assert rules[503] == {("notes", "nested_too_deep")}
    assert rules[504] == {("tailnum", "nul_character")}
    assert rules[505] == {("flight", "unstorable_number")}
    # The reject itself always fits: cut values are marked, the NUL made visible.
    tail = rejects[501]["values"]["tailnum"]
    assert len(tail) < MAX_KEPT_VALUE_CHARS + 50
    assert tail.endswith("[cut: 300,000 characters]")
    many = rejects[502]["values"]
    assert len(many) == MAX_KEPT_FIELDS + 1
    assert many["…"] == f"{len(poison[1]) - MAX_KEPT_FIELDS} more fields not kept"
    assert len(poison[1]) > MAX_FIELDS
    assert rejects[504]["values"]["tailnum"] == "N1\\u00002"
    assert rejects[505]["values"]["flight"] == "7" * 45
    # The lineage still shows the values as received (from the chunk's raw object).
    lineage = pipeline.get(f"/batches/{batch['batch_id']}/records/501").json_body
    assert lineage["state"] == "rejected"
    assert len(lineage["raw"]["tailnum"]) == 300_000
    assert len(pipeline.processed_lines(batch["batch_id"])) == 996
