"""The fault plan: read strictly, drawn at its rates, and refused anywhere but the local runtime."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared import faults
from shared.faults import FaultPlanError, parse_plan
from shared.settings import Settings

SETTINGS: dict[str, object] = {
    "batches_table": "b",
    "records_table": "r",
    "api_keys_table": "k",
    "raw_bucket": "raw",
    "processed_bucket": "processed",
    "ingest_queue_url": "q",
    "ingest_dlq_url": "d",
    "pipeline_dlq_url": "p",
    "state_machine_arn": "arn",
}


def test_a_plan_names_its_rates_by_target_and_kind():
    plan = parse_plan("validate=error:0.2, enrich=timeout:0.05,dynamodb=unprocessed:1", seed=3)

    assert plan.rate("validate", "error") == 0.2
    assert plan.rate("enrich", "timeout") == 0.05
    assert plan.rate("dynamodb", "unprocessed") == 1.0
    assert plan.rate("store", "error") == 0.0
    assert plan.seed == 3


def test_the_issue_s_example_plan_is_read():
    example = (
        "validate=error:0.2,enrich=timeout:0.05,store=throttle:0.1,split=error:0.05,"
        "dynamodb=unprocessed:0.1,s3=slowdown:0.05"
    )

    plan = parse_plan(example, functions=frozenset({"validate", "enrich", "store", "split"}))

    assert plan.rate("store", "throttle") == 0.1
    assert plan.rate("s3", "slowdown") == 0.05


@pytest.mark.parametrize(
    "text",
    [
        "validate=explode:0.1",
        "validate=error:1.5",
        "validate=error:often",
        "dynamodb=timeout:0.1",
        "s3=throttle:0.1",
        "nosuchstage=error:0.1",
        "validate",
    ],
)
def test_a_plan_that_is_not_one_is_refused_with_what_was_expected(text: str):
    with pytest.raises(FaultPlanError):
        parse_plan(text, functions=frozenset({"validate", "enrich"}))


def test_a_fault_plan_is_refused_at_startup_outside_the_local_runtime(
    monkeypatch: pytest.MonkeyPatch,
):
    with pytest.raises(ValidationError, match="local runtime only"):
        Settings.model_validate({**SETTINGS, "faults": "validate=error:0.1"})
    local = {**SETTINGS, "faults": "validate=error:0.1", "local_runtime": True}
    assert Settings.model_validate(local).faults

    monkeypatch.setenv("SLUICE_FAULTS", "validate=error:0.1")
    monkeypatch.delenv("SLUICE_LOCAL_RUNTIME", raising=False)
    faults.plan.cache_clear()
    try:
        with pytest.raises(FaultPlanError, match="local runtime only"):
            faults.plan()
    finally:
        faults.plan.cache_clear()


def test_faults_are_drawn_at_their_rate(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SLUICE_FAULTS", "validate=error:0.25,store=timeout:1")
    monkeypatch.setenv("SLUICE_LOCAL_RUNTIME", "true")
    faults.plan.cache_clear()
    faults._random.cache_clear()
    try:
        drawn = [faults.lambda_fault("validate") for _ in range(4_000)]
        assert 0.2 < drawn.count("error") / len(drawn) < 0.3
        assert faults.lambda_fault("store") == "timeout"
        assert faults.lambda_fault("enrich") is None
    finally:
        faults.plan.cache_clear()
        faults._random.cache_clear()
