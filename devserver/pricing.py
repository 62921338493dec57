"""The cost of a usage (``devserver/usage.py``) at AWS's list prices (``prices.json``).

One table of prices, with its date and sources, and one function that applies it. Lambda
durations are priced at each function's configured memory (``.chalice/config.json``, the
one place it is set); the durations themselves were measured on this machine, which is
the estimate's largest uncertainty. What is not counted: CloudWatch Logs and X-Ray (a few
log lines and one trace per invocation), EventBridge (S3's events on the default bus are
free), storage over time (``s3_bytes_written`` says how much a month would hold) and the
free tiers.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from devserver.provision import FUNCTION_PREFIX

__all__ = ["PRICES_PATH", "cost", "function_memory_mb", "prices"]

PRICES_PATH = Path(__file__).resolve().parent / "prices.json"
_CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
_S3_CHEAP = {"GetObject", "HeadObject", "HeadBucket"}
_S3_FREE = {"DeleteObject", "DeleteObjects"}


@functools.cache
def prices() -> dict[str, Any]:
    """The price table."""
    table: dict[str, Any] = json.loads(PRICES_PATH.read_text())
    return table


@functools.cache
def _chalice_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(_CHALICE_CONFIG.read_text())
    return config


def function_memory_mb(function: str) -> int:
    """The memory a deployed function (``sluice-dev-<name>``) is configured with."""
    config = _chalice_config()
    name = function.removeprefix(FUNCTION_PREFIX)
    own = config.get("lambda_functions", {}).get(name, {})
    return int(own.get("lambda_memory_size", config["lambda_memory_size"]))


def cost(usage: dict[str, Any]) -> dict[str, Any]:
    """Price a usage snapshot: dollars per service and in total."""
    table = prices()
    requests: dict[str, int] = usage["requests"]
    by_service: dict[str, float] = {}

    lambda_prices = table["lambda"]
    gb_seconds = sum(
        spent["seconds"] * function_memory_mb(name) / 1024
        for name, spent in usage["lambda"].items()
    )
    invocations = sum(spent["invocations"] for spent in usage["lambda"].values())
    by_service["lambda"] = (
        invocations * lambda_prices["per_request"] + gb_seconds * lambda_prices["per_gb_second"]
    )
    by_service["stepfunctions"] = (
        usage["state_transitions"] * table["stepfunctions"]["per_state_transition"]
    )
    s3 = table["s3"]
    by_service["s3"] = sum(
        count
        * (
            0.0
            if op in _S3_FREE
            else s3["per_get_and_other"]
            if op in _S3_CHEAP
            else s3["per_put_copy_post_list"]
        )
        for op, count in _operations(requests, "s3").items()
    )
    dynamodb = table["dynamodb"]
    by_service["dynamodb"] = (
        usage["dynamodb_write_units"] * dynamodb["per_write_unit"]
        + usage["dynamodb_read_units"] * dynamodb["per_read_unit"]
    )
    by_service["sqs"] = sum(_operations(requests, "sqs").values()) * table["sqs"]["per_request"]
    by_service["sns"] = _operations(requests, "sns").get("Publish", 0) * table["sns"]["per_publish"]
    return {
        "total": sum(by_service.values()),
        "by_service": by_service,
        "lambda_gb_seconds": gb_seconds,
        "prices": {"region": table["region"], "recorded": table["recorded"]},
    }


def _operations(requests: dict[str, int], service: str) -> dict[str, int]:
    prefix = f"{service}:"
    return {k.removeprefix(prefix): v for k, v in requests.items() if k.startswith(prefix)}
