"""Split: cut a batch's raw object into chunks in S3 for the Map state to fan out over.

The state payload only names the chunks (key and count), so the 256 KiB state limit
holds whatever the batch size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.context import PipelineContext, get_context
from shared.lambda_runtime import run_stage
from shared.models import ChunkRef, ExecutionInput, SplitResult
from shared.objects import chunk_key
from shared.observability import logger
from shared.raw_input import input_format, parse_body

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["handler", "split"]


def split(request: ExecutionInput, ctx: PipelineContext) -> SplitResult:
    """Write the batch's rows to S3 in chunks of ``chunk_size`` and return the chunk list.

    Raises:
        BatchNotFoundError: the batch is not in the batches table.
        ChunkObjectMissingError: its raw object is not in S3.
    """
    batch = ctx.batches.get(request.batch_id)
    body = ctx.raw.get_bytes(batch.raw_key)
    # The API checked the body's limits when it took the batch; here they cannot refuse it.
    parsed = parse_body(
        body,
        input_format(batch.content_type),
        dataset=batch.dataset,
        max_records=len(body) + 1,
        max_body_bytes=len(body),
    )
    size = ctx.settings.chunk_size
    chunks: list[ChunkRef] = []
    for index, start in enumerate(range(0, len(parsed.rows), size)):
        rows = parsed.rows[start : start + size]
        key = chunk_key(request.batch_id, index, "raw")
        ctx.raw.put_models(key, rows)
        chunks.append(ChunkRef(index=index, key=key, records=len(rows)))
    ctx.batches.set_chunks_total(request.batch_id, len(chunks))
    logger.info("batch split", extra={"records": len(parsed.rows), "chunks": len(chunks)})
    return SplitResult(
        dataset=batch.dataset,
        source_key=batch.raw_key,
        records_received=len(parsed.rows),
        chunks=chunks,
    )


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Split`` state."""
    return run_stage("split", event, context, ExecutionInput, lambda r: split(r, get_context()))
