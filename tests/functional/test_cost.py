"""Cost per batch: counted where the calls happen, priced at list prices, summed overall."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from shared.pricing import Usage, price
from tests.functional.conftest import csv_body, csv_rows

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline

# One chunk through split, validate, transform, enrich, store and finalize, plus the
# API's ingest request and the starter.
STAGE_INVOCATIONS = 6


def _entered(pipeline: Pipeline, arn: str) -> int:
    return sum(1 for e in pipeline.history(arn) if e["type"].endswith("StateEntered"))


def _flights(pipeline: Pipeline, rows: int) -> dict[str, Any]:
    header, flights = csv_rows("flights_1000.csv")
    batch_id = pipeline.post(csv_body(header, flights[:rows])).json_body["batch_id"]
    pipeline.wait(batch_id)
    # Read again once the execution has ended: Finalize adds its own cost after it has
    # marked the batch finished (the status wait() saw), as its invocation ends.
    batch: dict[str, Any] = pipeline.get(f"/batches/{batch_id}").json_body
    return batch


def test_a_batch_shows_what_it_cost_from_its_counted_calls(pipeline: Pipeline):
    batch = _flights(pipeline, 20)
    cost = batch["cost"]
    usage = Usage.model_validate(cost["usage"])

    # Every Lambda invocation the batch caused: its six stages, the starter, the ingest request.
    assert usage.lambda_invocations == pytest.approx(STAGE_INVOCATIONS + 2)
    # Transitions: each Lambda state entered, plus the states around them; the parent's
    # own history (the Map's children have theirs) holds all but the four chunk stages.
    assert usage.state_transitions == _entered(pipeline, batch["execution_arn"]) + 4
    assert usage.s3_put_requests >= 7  # raw body, chunk, manifest, 3 stage objects, processed
    assert usage.s3_get_requests >= 4
    assert usage.dynamodb_write_units > 10
    assert usage.dynamodb_read_units > 0
    assert usage.sqs_requests >= 1  # the ingest message
    assert usage.sns_publishes == 1  # the outcome, published by the state machine
    # The price is the price table's, and the parts add up.
    priced = price(usage)
    assert cost["total_usd"] == pytest.approx(priced.total_usd)
    assert cost["total_usd"] == pytest.approx(sum(cost["by_service"].values()))
    assert set(cost["by_service"]) == {"stepfunctions", "lambda", "s3", "dynamodb", "sqs", "sns"}
    assert cost["prices_recorded"]
    assert cost["estimated"]


def test_the_overview_total_is_the_sum_of_the_batches(pipeline: Pipeline):
    first = _flights(pipeline, 5)
    second = _flights(pipeline, 30)

    total = pipeline.get("/usage").json_body

    assert total["batches"] == 2
    summed = Usage.model_validate(first["cost"]["usage"]) + Usage.model_validate(
        second["cost"]["usage"]
    )
    # The batches' own items were read after they finished; the reads since add nothing.
    assert total["cost"]["usage"] == pytest.approx(summed.model_dump())
    assert total["cost"]["total_usd"] == pytest.approx(
        first["cost"]["total_usd"] + second["cost"]["total_usd"]
    )
