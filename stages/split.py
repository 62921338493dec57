"""Split: stream a batch's raw object into chunks in S3, and list them in a manifest.

The raw object is read as a stream (ranged GETs, gunzipped on the fly when it is
gzip) and never held whole: rows go into chunk objects of ``SLUICE_CHUNK_SIZE`` rows,
written a few at a time in the background, and each chunk's reference goes into the
manifest, itself streamed to S3 in multipart pieces. Memory stays flat in the size of
the file. The state payload names the manifest and counts the chunks; the Distributed
Map reads the manifest from S3 itself. A source that cannot be read at all (empty, not
UTF-8, a header that is not the dataset's) fails the batch with a ``SourceFormatError``
naming the code and the line, before any chunk is processed.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from shared.context import PipelineContext, get_context
from shared.datasets import get_dataset
from shared.lambda_runtime import run_stage
from shared.models import ChunkRef, ExecutionInput, ObjectRef, SplitResult
from shared.objects import chunk_key, manifest_key
from shared.observability import logger
from shared.raw_input import SourceRow, input_format, read_rows

if TYPE_CHECKING:
    from collections.abc import Iterator

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.objects import JsonArrayWriter, SourceStream

__all__ = ["handler", "split"]

# Chunk objects written concurrently (S3 latency dominates a PUT); bounds memory too.
_WRITERS = 8
# How often (in chunks) split reports how far it has read.
_PROGRESS_EVERY = 25


def split(request: ExecutionInput, ctx: PipelineContext) -> SplitResult:
    """Stream the batch's rows into chunk objects and a manifest; return where the manifest is.

    Raises:
        BatchNotFoundError: the batch is not in the batches table.
        ChunkObjectMissingError: its raw object is not in S3.
        SourceFormatError: the raw object cannot be read as its format.
    """
    batch = ctx.batches.get(request.batch_id)
    dataset = get_dataset(batch.dataset)
    version = ctx.batches.raw_version(batch.batch_id)
    source = ctx.raw.open(batch.raw_key, version_id=version)
    rows = read_rows(
        source,
        input_format(batch.content_type),
        dataset.name,
        encoding=batch.content_encoding,
        strict=False,
    )
    manifest = manifest_key(batch.batch_id)
    with (
        ctx.processed.json_array_writer(manifest) as listing,
        ThreadPoolExecutor(_WRITERS, thread_name_prefix="split") as pool,
    ):
        received = _write_chunks(rows, ctx, batch.batch_id, listing, pool, source)
    ctx.batches.record_split(batch.batch_id, received, listing.count)
    logger.info("batch split", extra={"records": received, "chunks": listing.count})
    return SplitResult(
        dataset=dataset.name,
        source_key=batch.raw_key,
        records_received=received,
        chunks_total=listing.count,
        manifest=ObjectRef(bucket=ctx.processed.bucket, key=manifest),
        max_concurrency=ctx.settings.map_concurrency,
    )


def _write_chunks(
    rows: Iterator[SourceRow],
    ctx: PipelineContext,
    batch_id: str,
    listing: JsonArrayWriter,
    pool: ThreadPoolExecutor,
    source: SourceStream,
) -> int:
    """Cut ``rows`` into chunks, writing each in the background; return how many rows there were."""
    size = ctx.settings.chunk_size
    in_flight: list[Future[None]] = []
    received = 0
    chunk: list[SourceRow] = []
    index = 0

    def flush() -> None:
        nonlocal chunk, index
        key = chunk_key(batch_id, index, "raw")
        lines = [row.to_json() for row in chunk]
        in_flight.append(pool.submit(ctx.processed.put_lines, key, lines))
        listing.add(
            ChunkRef(
                index=index,
                key=key,
                records=len(chunk),
                first_line=chunk[0].line,
                last_line=chunk[-1].line,
            )
        )
        index += 1
        chunk = []
        if len(in_flight) >= _WRITERS * 2:
            _drain(in_flight, keep=_WRITERS)
        if index % _PROGRESS_EVERY == 0:
            ctx.batches.record_split_progress(batch_id, received, source.bytes_read)

    for row in rows:
        chunk.append(row)
        received += 1
        if len(chunk) == size:
            flush()
    if chunk:
        flush()
    _drain(in_flight, keep=0)
    return received


def _drain(in_flight: list[Future[None]], keep: int) -> None:
    """Wait for the oldest writes until at most ``keep`` are outstanding (re-raising failures)."""
    while len(in_flight) > keep:
        in_flight.pop(0).result()


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Split`` state."""
    return run_stage("split", event, context, ExecutionInput, lambda r: split(r, get_context()))
