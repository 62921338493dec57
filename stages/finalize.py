"""Finalize: read the batch's counts from the chunk ledger's summary and set its terminal status.

The totals are the ledger's, kept current chunk by chunk (never counters incremented
twice, never the Map's output, which would grow with the number of chunks), so a
re-run writes the same status again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.clock import utc_now
from shared.context import PipelineContext, get_context
from shared.lambda_runtime import run_stage
from shared.ledger import ChunkStatus
from shared.models import (
    BatchOutcome,
    BatchStatus,
    BatchView,
    ErrorInfo,
    EventType,
    FinalizeInput,
)
from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["finalize", "handler", "outcome_of"]


def outcome_of(batch: BatchView, execution_arn: str) -> BatchOutcome:
    """Decide a batch's status from its ledger summary (pure)."""
    counts, chunks = batch.counts, batch.chunks
    error: ErrorInfo | None = None
    accounted = counts.processed + counts.rejected + counts.failed
    done = chunks.stored + chunks.failed
    if accounted != counts.received or done != (chunks.total or 0):
        error = ErrorInfo(
            type="AccountingMismatch",
            message=(
                f"{counts.received} records received but {accounted} accounted for; "
                f"{done} of {chunks.total} chunks finished"
            ),
        )
    elif chunks.failed:
        error = ErrorInfo(
            type="ChunkFailed",
            message=(
                f"{chunks.failed} of {chunks.total} chunks failed; "
                f"{counts.failed} records were not processed"
            ),
        )
    if error is not None:
        status, event = BatchStatus.FAILED, EventType.BATCH_FAILED
        # Once the batch has failed, whatever is not stored has failed (as the API counts it).
        counts = counts.model_copy(
            update={"failed": max(counts.received - counts.processed - counts.rejected, 0)}
        )
    elif counts.rejected:
        status, event = BatchStatus.COMPLETED_WITH_REJECTS, EventType.BATCH_COMPLETED_WITH_REJECTS
    else:
        status, event = BatchStatus.SUCCEEDED, EventType.BATCH_SUCCEEDED
    return BatchOutcome(
        event_type=event,
        batch_id=batch.batch_id,
        dataset=batch.dataset,
        status=status,
        execution_arn=execution_arn,
        counts=counts,
        error=error,
    )


def finalize(request: FinalizeInput, ctx: PipelineContext) -> BatchOutcome:
    """Store the batch's terminal status, and return the event to publish.

    Raises:
        BatchNotFoundError: the batch is not in the batches table.
    """
    batch = ctx.batches.get(request.batch_id)
    outcome = outcome_of(batch, request.execution_arn)
    if outcome.error is not None and outcome.error.type == "ChunkFailed":
        # Name the first failed chunk's own error: what went wrong, not only that it did.
        outcome = _with_first_chunk_error(outcome, ctx)
    ctx.batches.finish(outcome, utc_now())
    logger.info(
        "batch finished",
        extra={"status": outcome.status.value, "counts": outcome.counts.model_dump()},
    )
    return outcome


def _with_first_chunk_error(outcome: BatchOutcome, ctx: PipelineContext) -> BatchOutcome:
    failed, _ = ctx.ledger.page(outcome.batch_id, limit=1, token=None, status=ChunkStatus.FAILED)
    if not failed or failed[0].error is None or outcome.error is None:
        return outcome
    first = failed[0].error
    error = outcome.error.model_copy(
        update={
            "type": first.type,
            "message": f"{first.message} (chunk {first.chunk}); {outcome.error.message}",
            "code": first.code,
            "line": first.line,
            "chunk": first.chunk,
        }
    )
    return outcome.model_copy(update={"error": error})


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Finalize`` state."""
    return run_stage(
        "finalize",
        event,
        context,
        FinalizeInput,
        lambda summary: finalize(summary, get_context()),
        lambda _, outcome: outcome.counts,
    )
