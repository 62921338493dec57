"""MarkFailed: the failure path of a batch-level state (Split, ProcessChunks, Finalize).

The batch is marked ``FAILED`` with the error. Its counts stay the ledger's: records of
chunks that were stored are stored, and every other record counts as failed, so
received = processed + rejected + failed holds for a failed batch too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.clock import utc_now
from shared.context import PipelineContext, get_context
from shared.lambda_runtime import run_stage
from shared.models import BatchFailure, BatchOutcome, BatchStatus, EventType, RecordCounts
from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["handler", "mark_failed"]


def mark_failed(failure: BatchFailure, ctx: PipelineContext) -> BatchOutcome:
    """Mark the batch failed with the error and return the ``BatchFailed`` event.

    Raises:
        BatchNotFoundError: the batch is not in the batches table.
    """
    batch = ctx.batches.get(failure.batch_id)
    counts = batch.counts
    outcome = BatchOutcome(
        event_type=EventType.BATCH_FAILED,
        batch_id=failure.batch_id,
        dataset=batch.dataset,
        status=BatchStatus.FAILED,
        execution_arn=failure.execution_arn,
        counts=RecordCounts(
            received=counts.received,
            processed=counts.processed,
            rejected=counts.rejected,
            failed=max(counts.received - counts.processed - counts.rejected, 0),
        ),
        error=failure.error.to_error_info(),
    )
    ctx.batches.finish(outcome, utc_now())
    logger.error(
        "batch failed", extra={"error": outcome.error.model_dump() if outcome.error else None}
    )
    return outcome


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``MarkFailed`` state."""
    return run_stage(
        "mark_failed",
        event,
        context,
        BatchFailure,
        lambda failure: mark_failed(failure, get_context()),
        lambda _, outcome: outcome.counts,
    )
