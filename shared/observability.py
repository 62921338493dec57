"""Powertools' logger, metrics and tracer, one of each for every handler in the process.

Logs are structured JSON; metrics are CloudWatch embedded-metric-format (EMF) lines on
stdout, which Lambda turns into metrics at no API cost (locally they are just printed;
``POWERTOOLS_METRICS_DISABLED=true`` silences them); traces go to X-Ray through the
function's active tracing and are disabled outside Lambda by Powertools itself.
``observe_invocation`` wraps one invocation: its trace subsegment, its duration and its
per-stage record counts; ``observe_http`` does the same for API routes as Chalice
middleware (``app.register_middleware(observe_http, "http")``).

The X-Ray SDK's subsegments (one per stage, one per AWS call) are on only where tracing
is (``tracing_enabled``): building Powertools' ``Tracer`` imports the SDK, which makes an
X-Ray client at import, about 170 ms of every cold start (``bench/cold_start.py``). The
deployed functions turn them off by default (``POWERTOOLS_TRACE_DISABLED``); Lambda's
active tracing still traces every invocation, and the state machine and the API theirs.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from shared.models import RecordCounts

__all__ = [
    "NAMESPACE",
    "SERVICE",
    "Invocation",
    "logger",
    "metrics",
    "observe_http",
    "observe_invocation",
    "tracer",
    "tracing_enabled",
]

SERVICE = "sluice"
NAMESPACE = "Sluice"

logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE), service=SERVICE
)
_TRUE = {"1", "true", "yes", "on"}


def tracing_enabled() -> bool:
    """Whether this process sends X-Ray subsegments: Powertools' own rule for its Tracer.

    Inside Lambda (not SAM's or Chalice's local emulation), unless
    ``POWERTOOLS_TRACE_DISABLED`` is true.
    """
    environ = os.environ
    in_lambda = bool(environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    emulated = bool(environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE"))
    disabled = environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUE
    return in_lambda and not emulated and not disabled


@functools.cache
def tracer() -> Tracer | None:
    """The process's Tracer (which imports the X-Ray SDK), or None where tracing is off."""
    return Tracer(service=SERVICE) if tracing_enabled() else None


# Powertools keeps metrics in class-level storage; the local runtime runs several
# invocations on threads of one process, so each invocation's flush is made atomic.
_FLUSH = threading.Lock()


@dataclass
class Invocation:
    """Filled in by the handler while ``observe_invocation`` runs."""

    counts: RecordCounts | None = None
    extra_metrics: dict[str, int] = field(default_factory=dict)


@contextmanager
def observe_invocation(
    stage: str, batch_id: str | None = None, execution: str | None = None
) -> Iterator[Invocation]:
    """Trace the block as ``## <stage>`` and publish its duration and counts as metrics.

    Metrics are published only when the block succeeds; failures are counted by
    Lambda's own ``Errors`` metric and logged by the caller.
    """
    invocation = Invocation()
    started = time.perf_counter()
    with _subsegment(stage, batch_id):
        yield invocation
    _publish(stage, invocation, (time.perf_counter() - started) * 1000, batch_id, execution)


def _subsegment(stage: str, batch_id: str | None) -> AbstractContextManager[Any]:
    active = tracer()
    if active is None:
        return nullcontext()
    return _traced(active, stage, batch_id)


@contextmanager
def _traced(active: Tracer, stage: str, batch_id: str | None) -> Iterator[None]:
    with active.provider.in_subsegment(f"## {stage}") as subsegment:
        subsegment.put_annotation("stage", stage)
        if batch_id is not None:
            subsegment.put_annotation("batch_id", batch_id)
        yield


def observe_http(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice ``http`` middleware: log context, a trace and metrics for every API request.

    Publishes ``Requests``, ``ClientErrors`` and ``ServerErrors`` (counts) and ``Duration``
    under the ``api`` stage; the route and method go on every log line.
    """
    logger.clear_state()
    lambda_context = getattr(event, "lambda_context", None)
    if lambda_context is not None:
        logger.set_correlation_id(getattr(lambda_context, "aws_request_id", None))
    route = (getattr(event, "context", None) or {}).get("resourcePath", getattr(event, "path", ""))
    logger.append_keys(route=route, method=getattr(event, "method", None))
    with observe_invocation("api") as invocation:
        response = get_response(event)
        status = int(getattr(response, "status_code", 200))
        invocation.extra_metrics.update(
            Requests=1, ClientErrors=int(400 <= status < 500), ServerErrors=int(status >= 500)
        )
    return response


def _publish(
    stage: str,
    invocation: Invocation,
    duration_ms: float,
    batch_id: str | None,
    execution: str | None,
) -> None:
    with _FLUSH:
        metrics.add_dimension(name="stage", value=stage)
        metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=duration_ms)
        counts = invocation.counts
        if counts is not None:
            metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=counts.received)
            metrics.add_metric(
                name="RecordsProcessed", unit=MetricUnit.Count, value=counts.processed
            )
            metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=counts.rejected)
            metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=counts.failed)
        for name, value in invocation.extra_metrics.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        # Searchable in the EMF log line, never a dimension (one per batch would be costly).
        if batch_id is not None:
            metrics.add_metadata(key="batch_id", value=batch_id)
        if execution is not None:
            metrics.add_metadata(key="execution", value=execution)
        metrics.flush_metrics()
