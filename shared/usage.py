"""Each batch's own usage of AWS, counted where it happens, so each batch shows its cost.

Every boto3 client ``shared/aws.py`` makes reports its calls here (botocore's
``before-call`` and ``after-call`` events). Inside ``counted()`` they are tallied the
way AWS bills them: S3 requests by price class, DynamoDB write and read units (from
the sizes of the items written and of the answers read: the same rule as the local
runtime's meter, a little above DynamoDB's own measure), SQS requests, SNS publishes.
A handler adds its own invocation (and its duration at the function's memory) and the
state transitions it causes, and writes the sum onto its batch's item and onto the
running total (``BatchRepository.add_usage``): one update each per invocation, their
own cost included.

What is estimated rather than counted is listed in ``ESTIMATED`` and shown with every
cost: the states that run no Lambda are added per run from the state machine's shape,
and calls Step Functions makes itself (the Map's S3 reads and writes, its SNS and SQS
tasks) are added the same way.
"""

from __future__ import annotations

import json
import math
import os
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.pricing import Usage

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DYNAMODB_READS",
    "DYNAMODB_WRITES",
    "ESTIMATED",
    "Extras",
    "S3_FREE",
    "S3_GET_CLASS",
    "STATE_EXTRAS",
    "Tally",
    "counted",
    "current",
    "extras",
    "install",
    "invocation",
    "is_consistent",
    "read_units",
    "write_units",
]

S3_GET_CLASS = frozenset({"GetObject", "HeadObject", "HeadBucket"})
S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})
DYNAMODB_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
_WRITE_UNIT_BYTES = 1024
_READ_UNIT_BYTES = 4096

ESTIMATED = (
    "State transitions of states that run no Lambda (the Map, Choice, SNS and SQS tasks, "
    "Succeed and Fail) are added per run from the state machine's shape.",
    "Step Functions' own calls (the Map reading its manifest and writing its results, "
    "the SNS and SQS tasks) are added the same way.",
    "DynamoDB units come from the sizes of items and answers, not DynamoDB's own measure.",
    "Lambda time is the handler's own; Lambda bills a little more (its runtime's start).",
    "Not counted: the API key authorizer, API Gateway, CloudWatch Logs, X-Ray, storage.",
)


@dataclass(frozen=True)
class Extras:
    """What Step Functions does around one Lambda state that no handler sees."""

    transitions: int = 0
    s3_put_requests: int = 0
    s3_get_requests: int = 0
    sqs_requests: int = 0
    sns_publishes: int = 0


# The states after each Lambda state up to the next one (tests/unit/test_usage.py checks
# them against statemachine/pipeline.asl.json). finalize's depend on the outcome.
STATE_EXTRAS: dict[str, Extras] = {
    # ProcessChunks (a Distributed Map: it reads the manifest, writes its results).
    "split": Extras(transitions=1, s3_get_requests=1, s3_put_requests=2),
    # CheckOutcome, PublishOutcome (SNS), BatchDone.
    "finalize": Extras(transitions=3, sns_publishes=1),
    # CheckOutcome, SendToDeadLetterQueue (SQS), PublishFailure (SNS), BatchFailed.
    "finalize:FAILED": Extras(transitions=4, sqs_requests=1, sns_publishes=1),
    # SendToDeadLetterQueue (SQS), PublishFailure (SNS), BatchFailed.
    "mark_failed": Extras(transitions=3, sqs_requests=1, sns_publishes=1),
}


@dataclass
class Tally:
    """Running counts of one invocation's (or one request's) calls; thread-safe."""

    counts: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, amount: float = 1.0) -> None:
        """Add to one of ``Usage``'s fields."""
        with self._lock:
            self.counts[name] = self.counts.get(name, 0.0) + amount

    def usage(self) -> Usage:
        """What has been counted so far."""
        with self._lock:
            return Usage(**self.counts)


_CURRENT: ContextVar[Tally | None] = ContextVar("sluice_usage", default=None)


def current() -> Tally | None:
    """The tally calls are counted in now, if any (threads started in a copied context share it)."""
    return _CURRENT.get()


@contextmanager
def counted() -> Iterator[Tally]:
    """Count the AWS calls made inside the block (and in threads given its context)."""
    tally = Tally()
    token = _CURRENT.set(tally)
    try:
        yield tally
    finally:
        _CURRENT.reset(token)


def install(client: Any) -> None:
    """Have a botocore client report its calls to the current tally."""
    client.meta.events.register("before-call", _before_call)
    client.meta.events.register("after-call", _after_call)


def invocation(context: Any, seconds: float, share: float = 1.0) -> Usage:
    """One Lambda invocation (or ``share`` of one) that ran ``seconds`` at its memory."""
    configured: Any = getattr(context, "memory_limit_in_mb", None)
    memory = int(configured or os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 0)
    return Usage(lambda_invocations=share, lambda_gb_seconds=seconds * memory / 1024 * share)


def extras(state: str) -> Usage:
    """What Step Functions does around a Lambda state, as usage (``STATE_EXTRAS``)."""
    found = STATE_EXTRAS.get(state, Extras())
    return Usage(
        state_transitions=found.transitions,
        s3_put_requests=found.s3_put_requests,
        s3_get_requests=found.s3_get_requests,
        sqs_requests=found.sqs_requests,
        sns_publishes=found.sns_publishes,
    )


def write_units(operation: str, body: bytes) -> float:
    """DynamoDB write units of a request, from the JSON size of each item it writes."""
    try:
        request = json.loads(body) if body else {}
    except ValueError:
        return 1.0
    if operation == "TransactWriteItems":
        items = request.get("TransactItems", [])
        return float(sum(2 * _units(len(json.dumps(item)), _WRITE_UNIT_BYTES) for item in items))
    if operation == "BatchWriteItem":
        writes = [w for table in request.get("RequestItems", {}).values() for w in table]
        return float(sum(_units(len(json.dumps(w)), _WRITE_UNIT_BYTES) for w in writes))
    return float(_units(len(body), _WRITE_UNIT_BYTES))


def read_units(answer_bytes: int, consistent: bool) -> float:
    """DynamoDB read units of an answer: half a unit per 4 KB, a whole one if consistent."""
    return _units(answer_bytes, _READ_UNIT_BYTES) * (1.0 if consistent else 0.5)


def is_consistent(body: bytes | str) -> bool:
    """Whether a DynamoDB read request asks for a strongly consistent read."""
    raw = body if isinstance(body, bytes) else body.encode()
    return b'"ConsistentRead": true' in raw or b'"ConsistentRead":true' in raw


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _service_operation(event_name: str) -> tuple[str, str]:
    parts = event_name.split(".")
    return (parts[1], parts[2]) if len(parts) >= 3 else ("", "")


def _before_call(event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
    tally = _CURRENT.get()
    if tally is None:
        return
    service, operation = _service_operation(event_name)
    if service == "s3" and operation not in S3_FREE:
        tally.add("s3_get_requests" if operation in S3_GET_CLASS else "s3_put_requests")
    elif service == "dynamodb" and operation in DYNAMODB_WRITES:
        body = params.get("body", b"")
        tally.add(
            "dynamodb_write_units",
            write_units(operation, body if isinstance(body, bytes) else body.encode()),
        )
    elif service == "dynamodb" and operation in DYNAMODB_READS:
        context = kwargs.get("context")
        if isinstance(context, dict):
            context["sluice_consistent"] = is_consistent(params.get("body", b""))
    elif service == "sqs":
        tally.add("sqs_requests")
    elif service == "sns" and operation == "Publish":
        tally.add("sns_publishes")


def _after_call(event_name: str, http_response: Any = None, **kwargs: Any) -> None:
    tally = _CURRENT.get()
    if tally is None or http_response is None:
        return
    service, operation = _service_operation(event_name)
    if service == "dynamodb" and operation in DYNAMODB_READS:
        context = kwargs.get("context")
        consistent = bool(context.get("sluice_consistent")) if isinstance(context, dict) else False
        tally.add("dynamodb_read_units", read_units(len(http_response.content or b""), consistent))
