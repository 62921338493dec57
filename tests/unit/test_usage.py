"""The local runtime's meter and its prices: invocations timed, usage priced at list prices."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devserver.pricing import cost, function_memory_mb
from devserver.usage import Meter, metered


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
    # us-east-1, as recorded in devserver/prices.json.
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
