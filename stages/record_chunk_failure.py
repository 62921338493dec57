"""RecordChunkFailure: account for a chunk that failed after its retries, instead of losing it.

The Map's ``Catch`` routes here. Whatever the chunk may already have written (processed
objects, rejects) is withdrawn, so no record is both stored and failed; then the chunk's
ledger entry is marked failed with the error, all its records count as failed, and the
other chunks go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.context import PipelineContext, get_context
from shared.lambda_runtime import run_stage
from shared.models import ChunkFailure, ChunkOutcome
from shared.objects import processed_key
from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["handler", "record_chunk_failure"]


def record_chunk_failure(failure: ChunkFailure, ctx: PipelineContext) -> ChunkOutcome:
    """Withdraw what the chunk wrote, mark it failed and return an outcome counting it failed."""
    chunk = failure.chunk
    info = failure.error.to_error_info(chunk=chunk.index)
    logger.error(
        "chunk failed",
        extra={"chunk": chunk.index, "error": info.type, "error_message": info.message},
    )
    entry = ctx.ledger.get(failure.batch_id, chunk.index)
    if entry is not None and entry.partitions:
        ctx.processed.delete(
            processed_key(failure.dataset, p.date, failure.batch_id, chunk.index)
            for p in entry.partitions
        )
    withdrawn = ctx.rejects.withdraw(failure.batch_id, chunk.first_line, chunk.last_line)
    if withdrawn:
        logger.info("rejects of a failed chunk withdrawn", extra={"rejects": withdrawn})
    ctx.ledger.record_failed(failure.batch_id, chunk, info)
    return ChunkOutcome(
        index=chunk.index,
        received=chunk.records,
        processed=0,
        rejected=0,
        failed=chunk.records,
        error=info.type,
    )


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``RecordChunkFailure`` state."""
    return run_stage(
        "record_chunk_failure",
        event,
        context,
        ChunkFailure,
        lambda failure: record_chunk_failure(failure, get_context()),
        lambda _, outcome: outcome.stage_counts(),
    )
