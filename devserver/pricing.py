"""The cost of the local runtime's meter (``devserver/usage.py``) at the list prices.

The meter counts requests by service and operation and Lambda time by function; this
module turns that into a ``shared.pricing.Usage`` (each function's seconds at the
memory ``.chalice/config.json`` gives it, S3 requests by price class) and prices it
with the one price table (``shared/prices.json``). The durations were measured on this
machine, which is the estimate's largest uncertainty.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from devserver.provision import FUNCTION_PREFIX
from shared.pricing import Usage, price

__all__ = ["S3_FREE", "S3_GET_CLASS", "cost", "function_memory_mb", "usage_of"]

_CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
S3_GET_CLASS = frozenset({"GetObject", "HeadObject", "HeadBucket"})
S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})


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


def usage_of(snapshot: dict[str, Any]) -> Usage:
    """The billable usage in a meter snapshot."""
    requests: dict[str, int] = snapshot["requests"]
    s3 = _operations(requests, "s3")
    return Usage(
        state_transitions=snapshot["state_transitions"],
        lambda_invocations=sum(spent["invocations"] for spent in snapshot["lambda"].values()),
        lambda_gb_seconds=sum(
            spent["seconds"] * function_memory_mb(name) / 1024
            for name, spent in snapshot["lambda"].items()
        ),
        s3_put_requests=sum(n for op, n in s3.items() if op not in S3_GET_CLASS | S3_FREE),
        s3_get_requests=sum(n for op, n in s3.items() if op in S3_GET_CLASS),
        dynamodb_write_units=snapshot["dynamodb_write_units"],
        dynamodb_read_units=snapshot["dynamodb_read_units"],
        sqs_requests=sum(_operations(requests, "sqs").values()),
        sns_publishes=_operations(requests, "sns").get("Publish", 0),
    )


def cost(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Price a meter snapshot: dollars per service and in total."""
    priced = price(usage_of(snapshot))
    return {
        "total": priced.total_usd,
        "by_service": priced.by_service,
        "lambda_gb_seconds": priced.usage.lambda_gb_seconds,
        "prices": {"region": priced.region, "recorded": priced.prices_recorded},
    }


def _operations(requests: dict[str, int], service: str) -> dict[str, int]:
    prefix = f"{service}:"
    return {k.removeprefix(prefix): v for k, v in requests.items() if k.startswith(prefix)}
