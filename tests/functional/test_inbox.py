"""The failure inbox: what failed, grouped and filtered, its state, and marking it handled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from chalicelib.api_keys import ApiKeyRepository, Scope
from devserver.runtime import apply_environment
from tests.functional import readings_dataset
from tests.functional.conftest import csv_body, csv_rows

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.functional.conftest import Pipeline

HEADER = "sensor,taken_at,celsius"


@pytest.fixture
def broken(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    monkeypatch.setenv("SLUICE_CHUNK_SIZE", "2")
    apply_environment({})
    readings_dataset.BROKEN.clear()
    yield readings_dataset.BROKEN
    readings_dataset.BROKEN.clear()


def _failed_readings(pipeline: Pipeline) -> dict[str, Any]:
    rows = [f"{s},2024-05-01T1{i}:00:00Z,20" for i, s in enumerate(["S1", "S2", "S9", "S1"])]
    accepted = pipeline.post("\n".join([HEADER, *rows]) + "\n", query="?dataset=readings")
    return pipeline.wait(accepted.json_body["batch_id"])


def _flights_with_rejects(pipeline: Pipeline) -> dict[str, Any]:
    header, flights = csv_rows("flights_1000.csv")
    _, broken = csv_rows("flights_broken.csv")
    body = csv_body(header, [*flights[:2], *broken[:4]])
    return pipeline.wait(pipeline.post(body).json_body["batch_id"])


def _inbox(pipeline: Pipeline, query: str = "") -> list[dict[str, Any]]:
    response = pipeline.get(f"/failures{query}")
    assert response.status_code == 200, response.json_body
    items: list[dict[str, Any]] = response.json_body["items"]
    return items


def test_the_inbox_lists_failed_batches_chunks_and_rejects_by_rule(
    pipeline: Pipeline, broken: set[str]
):
    broken.add("S9")
    failed = _failed_readings(pipeline)
    rejected = _flights_with_rejects(pipeline)

    items = _inbox(pipeline)

    kinds = {(i["kind"], i["batch_id"]) for i in items}
    assert ("batch", failed["batch_id"]) in kinds
    assert ("chunk", failed["batch_id"]) in kinds
    assert ("batch", rejected["batch_id"]) not in kinds  # it completed, with rejects
    chunk = next(i for i in items if i["kind"] == "chunk")
    assert (chunk["id"], chunk["chunk"], chunk["count"], chunk["state"]) == (
        f"{failed['batch_id']}/1",
        1,
        2,
        "open",
    )
    assert chunk["error"]["message"] == "the S9 sensor is broken (for now)"
    groups = [i for i in items if i["kind"] == "rejects"]
    assert sum(g["count"] for g in groups) >= rejected["counts"]["rejected"]
    assert {g["batch_id"] for g in groups} == {rejected["batch_id"]}
    assert all(g["state"] == "open" and g["lines"] for g in groups)
    # Newest first.
    stamps = [i["at"] for i in items if i["at"]]
    assert stamps == sorted(stamps, reverse=True)

    # Filters: by batch, dataset, kind, rule and state.
    only = _inbox(pipeline, f"?batch={failed['batch_id']}")
    assert {i["batch_id"] for i in only} == {failed["batch_id"]}
    assert {i["dataset"] for i in _inbox(pipeline, "?dataset=flights")} == {"flights"}
    assert {i["kind"] for i in _inbox(pipeline, "?kind=chunk")} == {"chunk"}
    first = groups[0]
    by_rule = _inbox(pipeline, f"?rule={first['field']}:{first['rule']}")
    assert [i["id"] for i in by_rule] == [first["id"]]
    assert _inbox(pipeline, "?state=handled") == []
    assert pipeline.get("/failures?state=sideways").status_code == 400


def test_items_are_marked_handled_retried_and_replayed_and_it_survives_a_reload(
    pipeline: Pipeline, broken: set[str]
):
    broken.add("S9")
    failed = _failed_readings(pipeline)
    rejected = _flights_with_rejects(pipeline)
    chunk_id = f"{failed['batch_id']}/1"

    marked = pipeline.post_json(
        "/failures/handle",
        {"items": [{"kind": "chunk", "id": chunk_id}], "note": "known sensor fault"},
    )

    assert marked.status_code == 200, marked.json_body
    assert marked.json_body == {"handled": 1}
    chunk = next(i for i in _inbox(pipeline, "?kind=chunk") if i["id"] == chunk_id)
    assert chunk["state"] == "handled"
    assert chunk["handled"]["by"] == "functional tests"
    assert chunk["handled"]["note"] == "known sensor fault"
    audit = pipeline.get(f"/audit?batch={failed['batch_id']}").json_body["entries"]
    assert [(a["action"], a["actor"], a["target"], a["note"]) for a in audit] == [
        ("handle", "functional tests", f"chunk:{chunk_id}", "known sensor fault")
    ]

    # Retried to success: the batch and its chunk are "retried" now.
    broken.clear()
    assert pipeline.post_json(f"/batches/{failed['batch_id']}/retry").status_code == 202
    assert pipeline.wait(failed["batch_id"])["status"] == "SUCCEEDED"
    states = {(i["kind"], i["state"]) for i in _inbox(pipeline, f"?batch={failed['batch_id']}")}
    # Its dead letter (the failed run's) stays until someone discards it, marked retried.
    assert states == {("batch", "retried"), ("chunk", "retried"), ("dead_letter", "retried")}

    # A rule's rejects, all replayed, are "replayed".
    group = next(i for i in _inbox(pipeline, "?kind=rejects") if i["count"] == 1)
    page = pipeline.get(f"/batches/{rejected['batch_id']}/records?status=rejected").json_body
    [reject] = [r for r in page["records"] if r["line"] == group["lines"][0]]
    header, flights = csv_rows("flights_1000.csv")
    good = dict(zip(header.split(","), flights[0].split(","), strict=True))
    replayed = pipeline.post_json(
        f"/batches/{rejected['batch_id']}/replay",
        {"records": [{"line": reject["line"], "values": good}]},
    )
    assert replayed.status_code == 202, replayed.json_body
    after = next(i for i in _inbox(pipeline, "?kind=rejects") if i["id"] == group["id"])
    assert after["state"] == "replayed"

    # The whole trail, newest first, across batches: the replay, the retry, the mark.
    trail = pipeline.get("/audit").json_body["entries"]
    assert [a["action"] for a in trail] == ["replay", "retry", "handle"]
    assert trail[0]["batch_id"] == rejected["batch_id"]

    unknown = pipeline.post_json(
        "/failures/handle", {"items": [{"kind": "chunk", "id": "nope/3"}], "note": "x"}
    )
    assert unknown.status_code == 422
    assert unknown.json_body["code"] == "unknown_item"
    assert pipeline.post_json("/failures/handle", {"items": [], "note": "x"}).status_code == 400


def test_the_inbox_and_its_actions_need_the_admin_scope(pipeline: Pipeline):
    keys = ApiKeyRepository(pipeline.aws["dynamodb"].Table(pipeline.outputs["ApiKeysTableName"]))
    _, token = keys.create("viewer", [Scope.READ])
    viewer = {"Authorization": f"Bearer {token}"}

    assert pipeline.get("/failures", headers=viewer).status_code == 403
    assert pipeline.get("/audit", headers=viewer).status_code == 403
    assert pipeline.get("/usage", headers=viewer).status_code == 200
    refused = pipeline.client.http.post(
        "/batches/whatever1/retry", headers={**viewer, "Content-Type": "application/json"}
    )
    assert refused.status_code == 403
