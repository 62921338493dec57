"""Finalize: sum the chunks' outcomes into the batch's counts and terminal status.

The totals come from the Map state's outcomes (one per chunk), not from counters
incremented along the way, so a re-run writes the same numbers again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.clock import utc_now
from shared.context import PipelineContext, get_context
from shared.lambda_runtime import run_stage
from shared.models import (
    BatchCounts,
    BatchOutcome,
    BatchStatus,
    ErrorInfo,
    EventType,
    FinalizeInput,
)
from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["finalize", "handler", "outcome_of"]


def outcome_of(summary: FinalizeInput) -> BatchOutcome:
    """Compute a batch's counts and status from its chunk outcomes (pure)."""
    counts = BatchCounts(
        received=summary.split.records_received,
        processed=sum(o.processed for o in summary.outcomes),
        rejected=sum(o.rejected for o in summary.outcomes),
        failed=sum(o.failed for o in summary.outcomes),
    )
    error: ErrorInfo | None = None
    failed_chunks = [o for o in summary.outcomes if o.failed]
    accounted = counts.processed + counts.rejected + counts.failed
    if accounted != counts.received:
        error = ErrorInfo(
            type="AccountingMismatch",
            message=f"{counts.received} records received but {accounted} accounted for",
        )
    elif failed_chunks:
        error = ErrorInfo(
            type=failed_chunks[0].error or "ChunkFailed",
            message=(
                f"{len(failed_chunks)} of {len(summary.outcomes)} chunks failed; "
                f"{counts.failed} records were not processed"
            ),
        )
    if error is not None:
        status, event = BatchStatus.FAILED, EventType.BATCH_FAILED
    elif counts.rejected:
        status, event = BatchStatus.COMPLETED_WITH_REJECTS, EventType.BATCH_COMPLETED_WITH_REJECTS
    else:
        status, event = BatchStatus.SUCCEEDED, EventType.BATCH_SUCCEEDED
    return BatchOutcome(
        event_type=event,
        batch_id=summary.batch_id,
        dataset=summary.split.dataset,
        status=status,
        execution_arn=summary.execution_arn,
        counts=counts,
        error=error,
    )


def finalize(summary: FinalizeInput, ctx: PipelineContext) -> BatchOutcome:
    """Store the batch's terminal status and counts, and return the event to publish."""
    outcome = outcome_of(summary)
    ctx.batches.finish(outcome, utc_now())
    logger.info(
        "batch finished",
        extra={"status": outcome.status.value, "counts": outcome.counts.model_dump()},
    )
    return outcome


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Finalize`` state."""
    return run_stage(
        "finalize", event, context, FinalizeInput, lambda s: finalize(s, get_context())
    )
