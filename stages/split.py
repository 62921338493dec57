"""Split: stream a batch's raw object into chunks in S3, and list them in a manifest.

The raw object is read as a stream (ranged GETs, gunzipped on the fly when it is
gzip) and never held whole: rows go into chunk objects of ``SLUICE_CHUNK_SIZE`` rows,
written a few at a time in the background, and each chunk's reference goes into the
manifest, itself streamed to S3 in multipart pieces. Memory stays flat in the size of
the file. The state payload names the manifest and counts the chunks; the Distributed
Map reads the manifest from S3 itself. A source that cannot be read at all (empty, not
UTF-8, a header that is not the dataset's) fails the batch with a ``SourceFormatError``
naming the code and the line, before any chunk is processed.

A retry of failed chunks (``POST /batches/{id}/retry``, run ``n`` > 0 of kind ``retry``)
does not cut the source again: it takes the chosen failed chunks up again in the
ledger and lists only them in the run's own manifest. A chunk object that has expired
meanwhile is cut again from the raw object, by the source lines the ledger holds for
it. A re-run from the start (kind ``rerun``) splits as the first run did, and takes up
every failed chunk.
"""

from __future__ import annotations

import bisect
import contextvars
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from shared.batches import run_of
from shared.context import PipelineContext, get_context
from shared.datasets import get_dataset
from shared.errors import SourceFormatError
from shared.lambda_runtime import run_stage
from shared.ledger import ChunkEntry, ChunkStatus
from shared.models import (
    BatchView,
    ChunkRef,
    ObjectRef,
    RecordCounts,
    ReplayParent,
    RunKind,
    SplitInput,
    SplitResult,
)
from shared.objects import chunk_key, manifest_key
from shared.observability import logger
from shared.raw_input import InputFormat, SourceRow, media_format, read_rows

if TYPE_CHECKING:
    from collections.abc import Iterator

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.objects import JsonArrayWriter, SourceStream

__all__ = ["handler", "split"]

# Chunk objects written concurrently (S3 latency dominates a PUT); bounds memory too.
_WRITERS = 8
# How often (in chunks) split reports how far it has read.
_PROGRESS_EVERY = 25


def split(request: SplitInput, ctx: PipelineContext) -> SplitResult:
    """Stream the batch's rows into chunk objects and a manifest; return where the manifest is.

    Raises:
        BatchNotFoundError: the batch is not in the batches table.
        ChunkObjectMissingError: its raw object is not in S3.
        SourceFormatError: the raw object cannot be read as its format.
    """
    batch = ctx.batches.get(request.batch_id)
    run = run_of(batch.batch_id, request.execution_arn)
    kind = batch.runs[run].kind if run < len(batch.runs) else RunKind.INITIAL
    if kind is RunKind.RETRY and (retried := _retry_chunks(batch, run, ctx)) is not None:
        return retried
    if run > 0:
        # A re-run from the start (or a retry whose chunks are no longer all known).
        _take_up(batch, run, None, ctx, every_chunk=False)
    dataset = get_dataset(batch.dataset)
    version = ctx.batches.raw_version(batch.batch_id)
    source = ctx.raw.open(batch.raw_key, version_id=version)
    rows = read_rows(
        source,
        _format_of(batch),
        dataset.name,
        encoding=batch.content_encoding,
        strict=False,
    )
    if batch.replay_of is not None:
        rows = _with_origin(rows, batch.replay_of)
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
        # In a copy of this context: the writes count in this invocation's usage.
        write = contextvars.copy_context().run
        in_flight.append(pool.submit(write, ctx.processed.put_lines, key, lines))
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


def _with_origin(rows: Iterator[SourceRow], parent: ReplayParent) -> Iterator[SourceRow]:
    """A replay's rows, each naming the parent's line it replays."""
    for row in rows:
        origin = (parent.batch_id, parent.lines[row.line - 1])
        yield SourceRow(row.line, row.values, row.problem, origin)


def _take_up(
    batch: BatchView,
    run: int,
    chosen: set[int] | None,
    ctx: PipelineContext,
    every_chunk: bool = True,
) -> list[ChunkRef] | None:
    """Take up again, for ``run``, every chunk of the batch that is not stored (or the chosen).

    A chunk is known from its ledger entry or, if no stage ever touched it, from the
    first run's manifest (``every_chunk``). None is returned when some chunk is known
    from neither (the manifest has expired): the run then splits the source again.
    """
    entries: dict[int, ChunkEntry] = {}
    token: str | None = None
    while True:
        page, token = ctx.ledger.page(batch.batch_id, 200, token)
        entries.update((e.index, e) for e in page)
        if token is None:
            break
    refs = {index: _ref(batch, entry) for index, entry in entries.items()}
    total = batch.chunks.total or 0
    if every_chunk and len(refs) < total:
        manifest = manifest_key(batch.batch_id)
        if not ctx.processed.exists(manifest):
            return None
        listed = ctx.processed.get_json_array(manifest)
        refs.update(
            (r.index, r) for r in map(ChunkRef.model_validate, listed) if r.index not in refs
        )
    taken: list[ChunkRef] = []
    for index in sorted(refs):
        entry = entries.get(index)
        if (chosen is not None and index not in chosen) or (
            entry is not None and entry.status is ChunkStatus.STORED
        ):
            continue
        ctx.ledger.reopen(batch.batch_id, refs[index], run)
        taken.append(refs[index])
    return taken


def _ref(batch: BatchView, entry: ChunkEntry) -> ChunkRef:
    return ChunkRef(
        index=entry.index,
        key=chunk_key(batch.batch_id, entry.index, "raw"),
        records=entry.records,
        first_line=entry.first_line,
        last_line=entry.last_line,
    )


def _retry_chunks(batch: BatchView, run: int, ctx: PipelineContext) -> SplitResult | None:
    """List the run's chunks in its manifest, cutting again any whose object has expired.

    Returns None when the chunks cannot all be known (see ``_take_up``).
    """
    chosen = batch.runs[run].chunks
    refs = _take_up(batch, run, None if chosen is None else set(chosen), ctx)
    if refs is None:
        return None
    missing = [ref for ref in refs if not ctx.processed.exists(ref.key)]
    if missing:
        _cut_again(batch, missing, ctx)
    manifest = manifest_key(batch.batch_id, run)
    with ctx.processed.json_array_writer(manifest) as listing:
        for ref in refs:
            listing.add(ref)
    records = sum(ref.records for ref in refs)
    logger.info(
        "chunks taken up again",
        extra={"run": run, "chunks": len(refs), "records": records, "cut_again": len(missing)},
    )
    return SplitResult(
        dataset=batch.dataset,
        source_key=batch.raw_key,
        records_received=records,
        chunks_total=len(refs),
        manifest=ObjectRef(bucket=ctx.processed.bucket, key=manifest),
        max_concurrency=ctx.settings.map_concurrency,
    )


def _format_of(batch: BatchView) -> InputFormat:
    """The raw object's format, from the Content-Type the API checked when it came in.

    Raises:
        SourceFormatError: the batch names a type no reader reads (a contract bug).
    """
    fmt = media_format(batch.content_type)
    if fmt is None:
        raise SourceFormatError(
            "unsupported_format", f"the raw object's type {batch.content_type!r} cannot be read"
        )
    return fmt


def _cut_again(batch: BatchView, missing: list[ChunkRef], ctx: PipelineContext) -> None:
    """Write the objects of ``missing`` chunks again from the raw object, by their lines.

    Raises:
        SourceFormatError: the raw object no longer holds the lines the ledger recorded.
    """
    firsts = [ref.first_line for ref in missing]
    rows: dict[int, list[bytes]] = {ref.index: [] for ref in missing}
    source = ctx.raw.open(batch.raw_key, version_id=ctx.batches.raw_version(batch.batch_id))
    fmt = _format_of(batch)
    found = read_rows(source, fmt, batch.dataset, encoding=batch.content_encoding, strict=False)
    if batch.replay_of is not None:
        found = _with_origin(found, batch.replay_of)
    for row in found:
        at = bisect.bisect_right(firsts, row.line) - 1
        if at >= 0 and row.line <= missing[at].last_line:
            rows[missing[at].index].append(row.to_json())
    for ref in missing:
        if len(rows[ref.index]) != ref.records:
            raise SourceFormatError(
                "source_changed",
                f"chunk {ref.index} held {ref.records} records of lines {ref.first_line} to "
                f"{ref.last_line}; the raw object now has {len(rows[ref.index])} there",
            )
        ctx.processed.put_lines(ref.key, rows[ref.index])
    logger.info("expired chunk objects cut again", extra={"chunks": [r.index for r in missing]})


def _drain(in_flight: list[Future[None]], keep: int) -> None:
    """Wait for the oldest writes until at most ``keep`` are outstanding (re-raising failures)."""
    while len(in_flight) > keep:
        in_flight.pop(0).result()


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Split`` state."""
    return run_stage(
        "split",
        event,
        context,
        SplitInput,
        lambda request: split(request, get_context()),
        split_counts,
    )


def split_counts(_: SplitInput, result: SplitResult) -> RecordCounts:
    """What split did: every record it read went on, in a chunk (validation rejects later)."""
    return RecordCounts(received=result.records_received, processed=result.records_received)
