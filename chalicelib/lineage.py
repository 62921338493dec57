"""The story of one source line: what came in, where it went, and what it led to.

``GET /batches/{id}/records/{line}`` reads it from what the pipeline keeps anyway: the
batch item (how the line came in, its runs, the replay it belongs to), the chunk
ledger (the chunk that holds the line, its status and run), the chunk's raw object
(the values as received), the reject item (reasons, the replay it led to) and the
processed objects the chunk wrote (the stored record and its position). Nothing is
written for lineage's sake: every read is bounded by one chunk.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from shared.errors import ChunkObjectMissingError, NotFoundError
from shared.ledger import ChunkEntry, ChunkStatus
from shared.models import BatchSource, RecordRef, RunInfo
from shared.objects import chunk_key, processed_key

if TYPE_CHECKING:
    from shared.context import PipelineContext
    from shared.models import BatchView

__all__ = ["RecordLineage", "RecordState", "lineage_of"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class RecordState(StrEnum):
    """Where a source line ended up."""

    PROCESSED = "processed"
    REJECTED = "rejected"
    FAILED = "failed"
    PENDING = "pending"


class RecordSource(BaseModel):
    """The request or upload a line came in with."""

    model_config = _FROZEN

    kind: BatchSource
    raw_key: str
    filename: str | None
    content_type: str
    received_at: datetime


class ChunkPlace(BaseModel):
    """The chunk that holds the line."""

    model_config = _FROZEN

    index: int
    status: ChunkStatus
    first_line: int
    last_line: int


class StoredAt(BaseModel):
    """Where a processed record is: its S3 object and its position (0-based line) in it."""

    model_config = _FROZEN

    bucket: str
    key: str
    position: int


class StageTimes(BaseModel):
    """When each stage touched the record."""

    model_config = _FROZEN

    validated_at: datetime | None = None
    transformed_at: datetime | None = None
    enriched_at: datetime | None = None
    stored_at: datetime | None = None


class RecordLineage(BaseModel):
    """The whole story of one source line of a batch."""

    model_config = _FROZEN

    batch_id: str
    line: int
    dataset: str
    state: RecordState
    raw: dict[str, Any] | None
    source: RecordSource
    run: RunInfo | None
    chunk: ChunkPlace | None
    stages: StageTimes
    reasons: list[dict[str, Any]] | None = None
    stored: StoredAt | None = None
    record: dict[str, Any] | None = None
    replayed_to: RecordRef | None = None
    replayed_from: RecordRef | None = None


def lineage_of(batch: BatchView, line: int, ctx: PipelineContext) -> RecordLineage:
    """Read the story of ``line`` of ``batch``.

    Raises:
        NotFoundError: the batch has no such line (``record_not_found``).
    """
    first = 2 if batch.content_type == "text/csv" else 1
    received = batch.counts.received
    entry = _chunk_with(batch, line, ctx)
    if entry is None and (line < first or line >= first + received):
        raise NotFoundError(
            f"batch {batch.batch_id!r} has no source line {line}", code="record_not_found"
        )
    reject = ctx.rejects.get(batch.batch_id, line)
    raw = _raw_values(batch, entry, line, ctx) if entry is not None else None
    stored, record = (None, None)
    if reject is None and entry is not None and entry.status is ChunkStatus.STORED:
        stored, record = _stored(batch, entry, line, ctx)
    lineage: dict[str, Any] = {}
    if record is not None:
        lineage = record.get("lineage", {})
    elif reject is not None:
        lineage = reject.get("lineage", {})
        raw = raw if raw is not None else reject.get("values")
    state = _state(entry, reject, record)
    replayed_to = reject.get("replayed_to") if reject is not None else None
    replayed_from = None
    if batch.replay_of is not None and line <= len(batch.replay_of.lines):
        replayed_from = RecordRef(
            batch_id=batch.replay_of.batch_id, line=batch.replay_of.lines[line - 1]
        )
    run = None
    if entry is not None and entry.run < len(batch.runs):
        run = batch.runs[entry.run]
    return RecordLineage(
        batch_id=batch.batch_id,
        line=line,
        dataset=batch.dataset,
        state=state,
        raw=raw,
        source=RecordSource(
            kind=batch.source,
            raw_key=batch.raw_key,
            filename=batch.filename,
            content_type=batch.content_type,
            received_at=batch.received_at,
        ),
        run=run,
        chunk=None
        if entry is None
        else ChunkPlace(
            index=entry.index,
            status=entry.status,
            first_line=entry.first_line,
            last_line=entry.last_line,
        ),
        stages=StageTimes.model_validate(
            {k: lineage.get(k) for k in StageTimes.model_fields if lineage.get(k)}
        ),
        reasons=reject.get("reasons") if reject is not None else None,
        stored=stored,
        record=record.get("record") if record is not None else None,
        replayed_to=None
        if not replayed_to
        else RecordRef(batch_id=replayed_to["batch_id"], line=replayed_to["line"]),
        replayed_from=replayed_from,
    )


def _state(
    entry: ChunkEntry | None, reject: dict[str, Any] | None, record: dict[str, Any] | None
) -> RecordState:
    if reject is not None:
        return RecordState.REJECTED
    if record is not None:
        return RecordState.PROCESSED
    if entry is not None and entry.status is ChunkStatus.FAILED:
        return RecordState.FAILED
    return RecordState.PENDING


def _chunk_with(batch: BatchView, line: int, ctx: PipelineContext) -> ChunkEntry | None:
    """The ledger entry of the chunk whose lines include ``line`` (None: none has it yet)."""
    token: str | None = None
    while True:
        entries, token = ctx.ledger.page(batch.batch_id, 200, token)
        for entry in entries:
            if entry.first_line <= line <= entry.last_line:
                return entry
            if entry.first_line > line:
                return None
        if token is None:
            return None


def _raw_values(
    batch: BatchView, entry: ChunkEntry, line: int, ctx: PipelineContext
) -> dict[str, Any] | None:
    """The line's values as received, from its chunk's raw object (None once it expired)."""
    try:
        rows = ctx.processed.get_json_lines(chunk_key(batch.batch_id, entry.index, "raw"))
    except ChunkObjectMissingError:
        return None
    found = next((row for row in rows if row.get("line") == line), None)
    return None if found is None else dict(found.get("values", {}))


def _stored(
    batch: BatchView, entry: ChunkEntry, line: int, ctx: PipelineContext
) -> tuple[StoredAt | None, dict[str, Any] | None]:
    """The processed object that holds the line's record, its position there, and the record."""
    for partition in entry.partitions:
        key = processed_key(batch.dataset, partition.date, batch.batch_id, entry.index)
        try:
            records = ctx.processed.get_json_lines(key)
        except ChunkObjectMissingError:
            continue
        for position, record in enumerate(records):
            if record.get("lineage", {}).get("line") == line:
                where = StoredAt(bucket=ctx.processed.bucket, key=key, position=position)
                return where, record
    return None, None
