"""The local runtime's meter and its prices: invocations timed, usage priced at list prices."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devserver.pricing import cost, function_memory_mb
from devserver.usage import Meter, metered
from infra.template import load_definition
from shared.pricing import Usage, price
from shared.usage import STATE_EXTRAS, Extras


def test_an_invocation_is_counted_with_how_long_it_ran():
    own = Meter()

    def slow(name: str, body: bytes | str | None) -> tuple[bytes, bool]:
        time.sleep(0.05)
        return b"{}", False

    invoke = metered(slow, own)
    invoke("sluice-dev-validate", b"{}")
    invoke("sluice-dev-validate", b"{}")

    spent = own.snapshot()["lambda"]["sluice-dev-validate"]
    assert spent["invocations"] == 2
    assert 0.1 <= spent["seconds"] < 1.0


def _usage(**overrides: Any) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "requests": {},
        "lambda": {},
        "state_transitions": 0,
        "dynamodb_write_units": 0.0,
        "dynamodb_read_units": 0.0,
        "s3_bytes_written": 0,
    }
    usage.update(overrides)
    return usage


def test_costs_follow_the_list_prices():
    # us-east-1, as recorded in shared/prices.json.
    priced = cost(
        _usage(
            requests={
                "s3:PutObject": 1000,
                "s3:GetObject": 1000,
                "s3:DeleteObjects": 1000,
                "sqs:SendMessage": 1_000_000,
                "sns:Publish": 1_000_000,
            },
            state_transitions=1000,
            dynamodb_write_units=1_000_000.0,
            dynamodb_read_units=1_000_000.0,
        )
    )["by_service"]

    assert priced["s3"] == pytest.approx(0.005 + 0.0004)  # deletes are free
    assert priced["stepfunctions"] == pytest.approx(0.025)
    assert priced["dynamodb"] == pytest.approx(0.625 + 0.125)
    assert priced["sqs"] == pytest.approx(0.40)
    assert priced["sns"] == pytest.approx(0.50)


def test_lambda_is_priced_per_request_and_per_gb_second_at_the_configured_memory():
    memory = function_memory_mb("sluice-dev-enrich")
    spent = {"sluice-dev-enrich": {"invocations": 10, "seconds": 100.0}}
    priced = cost(_usage(**{"lambda": spent}))

    assert memory >= 128
    assert priced["lambda_gb_seconds"] == pytest.approx(100.0 * memory / 1024)
    assert priced["by_service"]["lambda"] == pytest.approx(
        10 * 0.20 / 1e6 + 100.0 * memory / 1024 * 0.0000166667
    )


def _walk(states: dict[str, Any], name: str | None, extras: Extras) -> Extras:
    """Follow the states after a Lambda state up to the next one (or the end), adding them up."""
    while name is not None:
        state = states[name]
        resource = str(state.get("Resource", ""))
        if "FunctionArn" in resource:
            return extras
        extras = Extras(
            transitions=extras.transitions + 1,
            s3_get_requests=extras.s3_get_requests + ("ItemReader" in state),
            s3_put_requests=extras.s3_put_requests + 2 * ("ResultWriter" in state),
            sqs_requests=extras.sqs_requests + resource.endswith("sqs:sendMessage"),
            sns_publishes=extras.sns_publishes + resource.endswith("sns:publish"),
        )
        if state["Type"] == "Map":
            return extras  # the chunk stages inside are Lambda states of their own
        name = state.get("Next", state.get("Default"))
    return extras


def test_the_states_around_each_lambda_state_are_charged_as_the_asl_runs_them():
    states = load_definition()["States"]

    def after(state: str, choice: str | None = None) -> Extras:
        following = states[state].get("Next")
        if choice is not None:
            check = states[following]
            target = next(c["Next"] for c in check["Choices"] if c.get("StringEquals") == choice)
            return _walk(states, target, Extras(transitions=1))
        return _walk(states, following, Extras())

    assert after("Split") == STATE_EXTRAS["split"]
    assert after("Finalize") == STATE_EXTRAS["finalize"]
    assert after("Finalize", "FAILED") == STATE_EXTRAS["finalize:FAILED"]
    assert after("MarkFailed") == STATE_EXTRAS["mark_failed"]
    # A chunk stage is followed by the next stage (or the end of the chunk): nothing extra.
    chunk_states = states["ProcessChunks"]["ItemProcessor"]["States"]
    for name in ("Validate", "Transform", "Enrich", "Store"):
        assert _walk(chunk_states, chunk_states[name].get("Next"), Extras()) == Extras()


def test_a_usage_adds_up_and_is_priced_by_the_one_table():
    one = Usage(state_transitions=10, lambda_invocations=2, s3_put_requests=1000)
    both = one + Usage(state_transitions=5, sns_publishes=1_000_000)

    priced = price(both)

    assert both.state_transitions == 15
    assert priced.by_service["stepfunctions"] == pytest.approx(15 * 0.000025)
    assert priced.by_service["s3"] == pytest.approx(0.005)
    assert priced.by_service["sns"] == pytest.approx(0.50)
    assert priced.total_usd == pytest.approx(sum(priced.by_service.values()))
