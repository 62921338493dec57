"""RecordChunkFailure: account for a chunk that failed after its retries, instead of losing it.

The Map state's ``Catch`` routes here; the chunk's records count as failed, the chunk
item keeps the error, and the other chunks go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.context import PipelineContext, get_context
from shared.lambda_runtime import run_stage
from shared.models import ChunkFailure, ChunkOutcome
from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["handler", "record_chunk_failure"]


def record_chunk_failure(failure: ChunkFailure, ctx: PipelineContext) -> ChunkOutcome:
    """Mark the chunk failed and return an outcome counting all its records as failed."""
    info = failure.error.to_error_info()
    logger.error("chunk failed", extra={"chunk": failure.chunk.index, "error": info.type})
    ctx.batches.record_chunk_failure(failure.batch_id, failure.chunk.index, info)
    return ChunkOutcome(
        index=failure.chunk.index,
        records=failure.chunk.records,
        processed=0,
        rejected=0,
        failed=failure.chunk.records,
        error=info.type,
    )


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``RecordChunkFailure`` state."""
    return run_stage(
        "record_chunk_failure",
        event,
        context,
        ChunkFailure,
        lambda f: record_chunk_failure(f, get_context()),
    )
