"""Faults injected on purpose, at random, in the local runtime only: does the accounting hold?

``SLUICE_FAULTS`` is a plan, ``target=kind:rate`` separated by commas, for example
``validate=error:0.2,enrich=timeout:0.05,dynamodb=throttle:0.1,dynamodb=unprocessed:0.1,
s3=slowdown:0.05``. Modelled on AWS FIS's Lambda fault actions:

- ``<function>=error:r``: an invocation fails before its handler runs, as Lambda's own
  ``Lambda.ServiceException`` (the state machine retries it);
- ``<function>=throttle:r``: an invocation is refused before its handler runs, as Lambda's
  ``Lambda.TooManyRequestsException`` (the state machine retries it);
- ``<function>=timeout:r``: the handler runs, its work is done, but its answer is lost:
  the invocation ends ``Sandbox.Timedout`` (the state machine does not retry it: the chunk
  is caught and withdrawn, or the batch fails);
- ``dynamodb=throttle:r``: a DynamoDB request answers ``ProvisionedThroughputExceededException``;
- ``dynamodb=unprocessed:r``: a ``BatchWriteItem`` writes nothing and answers all its items
  unprocessed (as DynamoDB may when throttled; the caller must send them again);
- ``s3=slowdown:r``: an S3 request answers ``503 SlowDown``.

AWS faults are injected where botocore sends a request (``before-send``), so the SDK's own
retries apply as they would on AWS; Lambda faults in the local runtime's dispatcher.
``SLUICE_FAULTS_SEED`` seeds each process's draws (the sequence a process draws is
reproducible; how processes interleave is not). On AWS the plan is refused at startup
(``Settings``): a fault plan never reaches a deployed function. ``injected()`` counts
what was injected, for the soak's figures.
"""

from __future__ import annotations

import functools
import json
import os
import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.awsrequest import AWSResponse, HTTPHeaders

from shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "AWS_FAULTS",
    "LOCAL_ONLY",
    "LAMBDA_FAULTS",
    "FaultPlan",
    "FaultPlanError",
    "install",
    "injected",
    "lambda_fault",
    "parse_plan",
    "plan",
]

LAMBDA_FAULTS: Final = frozenset({"error", "throttle", "timeout"})
AWS_FAULTS: Final = {
    "dynamodb": frozenset({"throttle", "unprocessed"}),
    "s3": frozenset({"slowdown"}),
}


_SLOWDOWN: Final = (
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate (injected)"
    b"</Message></Error>"
)


LOCAL_ONLY: Final = "SLUICE_FAULTS injects faults in the local runtime only; unset it on AWS"


class FaultPlanError(ValueError):
    """``SLUICE_FAULTS`` is not a plan this module reads."""


@dataclass(frozen=True)
class FaultPlan:
    """The rate of each fault, by target (a function name, ``dynamodb`` or ``s3``) and kind."""

    rates: dict[tuple[str, str], float]
    seed: int

    def rate(self, target: str, kind: str) -> float:
        """The chance of the fault on each call (0 when the plan does not name it)."""
        return self.rates.get((target, kind), 0.0)


def parse_plan(text: str, seed: int = 0, functions: frozenset[str] | None = None) -> FaultPlan:
    """Read a plan (``target=kind:rate,...``).

    Raises:
        FaultPlanError: a part is not ``target=kind:rate`` with a known kind and 0 <= rate <= 1.
    """
    rates: dict[tuple[str, str], float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        target, _, fault = part.partition("=")
        kind, _, rate_text = fault.partition(":")
        try:
            rate = float(rate_text)
        except ValueError:
            raise FaultPlanError(f"{part!r}: the rate must be a number from 0 to 1") from None
        known = AWS_FAULTS.get(target, LAMBDA_FAULTS)
        if kind not in known or not 0 <= rate <= 1:
            raise FaultPlanError(
                f"{part!r}: expected {target}=<{'|'.join(sorted(known))}>:<rate from 0 to 1>"
            )
        if target not in AWS_FAULTS and functions is not None and target not in functions:
            raise FaultPlanError(f"{part!r}: no function is named {target!r}")
        rates[(target, kind)] = rate
    return FaultPlan(rates=rates, seed=seed)


@functools.cache
def plan() -> FaultPlan | None:
    """This process's plan, from ``SLUICE_FAULTS`` and ``SLUICE_FAULTS_SEED`` (None: no faults).

    Raises:
        FaultPlanError: the plan cannot be read, or this is not the local runtime.
    """
    text = os.environ.get("SLUICE_FAULTS", "").strip()
    if not text:
        return None
    if os.environ.get("SLUICE_LOCAL_RUNTIME", "").lower() != "true":
        raise FaultPlanError(LOCAL_ONLY)
    return parse_plan(text, int(os.environ.get("SLUICE_FAULTS_SEED", "0")))


_LOCK = threading.Lock()
_COUNTS: Counter[str] = Counter()


@functools.cache
def _random() -> random.Random:
    current = plan()
    return random.Random(f"{current.seed if current else 0}:{os.getpid()}")  # noqa: S311


def _draw(target: str, kind: str) -> bool:
    current = plan()
    if current is None:
        return False
    rate = current.rate(target, kind)
    if rate <= 0:
        return False
    with _LOCK:
        hit = _random().random() < rate
        if hit:
            _COUNTS[f"{target}={kind}"] += 1
    if hit:
        # One line per fault: the soak (bench/soak.py) counts them in the runtime's log.
        logger.warning("fault injected", extra={"fault": f"{target}={kind}"})
    return hit


def injected() -> dict[str, int]:
    """How many faults of each kind this process has injected so far."""
    with _LOCK:
        return dict(_COUNTS)


def lambda_fault(function: str) -> str | None:
    """The fault to inject into this invocation of ``function`` (``error``, ...), if any."""
    for kind in ("error", "throttle", "timeout"):
        if _draw(function, kind):
            return kind
    return None


def install(client: Any) -> None:
    """Have a botocore client meet the plan's AWS faults (nothing if there is no plan)."""
    if plan() is not None:
        # First: before any other handler answers in its place (moto's mock does, in tests).
        client.meta.events.register_first("before-send", _before_send)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _before_send(request: Any, **kwargs: Any) -> AWSResponse | None:
    event = str(kwargs.get("event_name", ""))
    service, operation = (event.split(".") + ["", ""])[1:3]
    if service == "dynamodb":
        if _draw("dynamodb", "throttle"):
            return _json_error(request, "ProvisionedThroughputExceededException")
        if operation == "BatchWriteItem" and _draw("dynamodb", "unprocessed"):
            return _unprocessed(request)
    elif service == "s3" and _draw("s3", "slowdown"):
        return _response(request, 503, "application/xml", _SLOWDOWN)
    return None


def _response(request: Any, status: int, content_type: str, body: bytes) -> AWSResponse:
    headers = HTTPHeaders()
    headers["Content-Type"] = content_type
    return AWSResponse(request.url, status, headers, _Body(body))


def _json_error(request: Any, code: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"})
    return _response(request, 400, "application/x-amz-json-1.0", body.encode())


def _unprocessed(request: Any) -> AWSResponse:
    """Answer a BatchWriteItem as DynamoDB does when it wrote none of it (all unprocessed).

    The request is not sent: what is answered unprocessed must really be unwritten.
    """
    asked = json.loads(request.body or b"{}").get("RequestItems", {})
    body = json.dumps({"UnprocessedItems": asked}).encode()
    return _response(request, 200, "application/x-amz-json-1.0", body)
