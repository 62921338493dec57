"""What a usage costs at AWS's list prices (``prices.json``, dated, with its sources).

One price table and one function that applies it, for a batch's own counted usage
(``shared/usage.py``, ``GET /batches/{id}``) and for the local runtime's meter of
everything (``devserver/usage.py``). What no usage here counts: CloudWatch Logs and
X-Ray (a few log lines and one trace per invocation), EventBridge (S3's events on the
default bus are free), API Gateway, storage over time, data transfer and free tiers.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PRICES_PATH", "Cost", "Usage", "price", "prices"]

PRICES_PATH = Path(__file__).resolve().parent / "prices.json"
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Usage(BaseModel):
    """What AWS bills, counted (or, where noted, estimated)."""

    model_config = _FROZEN

    state_transitions: float = Field(
        default=0, description="Step Functions state transitions (Standard workflows)."
    )
    lambda_invocations: float = 0
    lambda_gb_seconds: float = Field(default=0, description="Duration times configured memory.")
    s3_put_requests: float = Field(default=0, description="PUT, COPY, POST and LIST requests.")
    s3_get_requests: float = Field(default=0, description="GET, HEAD and other requests.")
    dynamodb_write_units: float = 0
    dynamodb_read_units: float = 0
    sqs_requests: float = 0
    sns_publishes: float = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields}
        )


class Cost(BaseModel):
    """A usage priced: the total and each service's part, in US dollars."""

    model_config = _FROZEN

    total_usd: float
    by_service: dict[str, float]
    usage: Usage
    region: str
    prices_recorded: str = Field(description="The date the price table was recorded.")
    estimated: list[str] = Field(
        default_factory=list, description="What in the usage is estimated rather than counted."
    )


@functools.cache
def prices() -> dict[str, Any]:
    """The price table."""
    table: dict[str, Any] = json.loads(PRICES_PATH.read_text())
    return table


def price(usage: Usage, estimated: Sequence[str] = ()) -> Cost:
    """Price a usage at the list prices (pure); ``estimated`` says what in it is estimated."""
    table = prices()
    lambda_prices, s3, dynamodb = table["lambda"], table["s3"], table["dynamodb"]
    by_service = {
        "stepfunctions": usage.state_transitions * table["stepfunctions"]["per_state_transition"],
        "lambda": usage.lambda_invocations * lambda_prices["per_request"]
        + usage.lambda_gb_seconds * lambda_prices["per_gb_second"],
        "s3": usage.s3_put_requests * s3["per_put_copy_post_list"]
        + usage.s3_get_requests * s3["per_get_and_other"],
        "dynamodb": usage.dynamodb_write_units * dynamodb["per_write_unit"]
        + usage.dynamodb_read_units * dynamodb["per_read_unit"],
        "sqs": usage.sqs_requests * table["sqs"]["per_request"],
        "sns": usage.sns_publishes * table["sns"]["per_publish"],
    }
    return Cost(
        total_usd=sum(by_service.values()),
        by_service=by_service,
        usage=usage,
        region=table["region"],
        prices_recorded=table["recorded"],
        estimated=list(estimated),
    )
