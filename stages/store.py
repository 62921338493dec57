"""Store: write a chunk's processed records to S3 by date partition, and its rejects to DynamoDB.

Processed records go to S3 only, one NDJSON object per chunk and date partition, each
written once (DynamoDB keeps what is queried: batches, the ledger, rejects). Object keys
and reject keys come from the batch, chunk and line, so storing a chunk twice leaves
exactly one copy of each record. Enrich records the partitions in the ledger before Store
writes them, so a chunk that fails afterwards can withdraw them; the chunk is marked
stored, with its counts, only once everything is written.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from shared.clock import utc_now
from shared.datasets import get_dataset
from shared.errors import InvalidStatePayloadError
from shared.ledger import ChunkStatus, PartitionOutput, StageProgress
from shared.models import (
    ChunkOutcome,
    ChunkPayload,
    RejectedRecord,
    StagedRecord,
    StageName,
    restaged,
)
from shared.objects import chunk_key, processed_key
from stages.chunk_mapping import run_chunk_stage

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date, datetime

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.context import PipelineContext

__all__ = ["handler", "partition_records", "store"]


def store(payload: ChunkPayload, ctx: PipelineContext) -> ChunkOutcome:
    """Store the chunk's processed and rejected records and return its counts.

    Raises:
        InvalidStatePayloadError: the payload names no enriched object.
        ChunkObjectMissingError: an input object is not in S3.
    """
    if payload.current_key is None:
        raise InvalidStatePayloadError("store needs current_key in its payload")
    started = utc_now()
    dataset = get_dataset(payload.dataset)
    enriched = ctx.processed.get_models(
        payload.current_key,
        StagedRecord[dataset.enriched_model],  # type: ignore[name-defined]
    )
    rejected = (
        ctx.processed.get_models(
            chunk_key(payload.batch_id, payload.chunk.index, "rejected"), RejectedRecord
        )
        if payload.rejected
        else []
    )
    partitions = partition_records(enriched, dataset.partition_date, {"stored_at": utc_now()})
    outputs = [PartitionOutput(date=d, records=len(partitions[d])) for d in sorted(partitions)]
    # Enrich recorded these partitions already (so a failure from here on withdraws them).
    for output in outputs:
        key = processed_key(dataset.name, output.date, payload.batch_id, payload.chunk.index)
        ctx.processed.put_models(key, partitions[output.date])
    ctx.rejects.put(dataset.name, rejected)
    entry = ctx.ledger.record_stored(
        payload.batch_id,
        payload.chunk,
        StageProgress(
            received=len(enriched) + len(rejected),
            processed=len(enriched),
            rejected=len(rejected),
            started_at=started,
            finished_at=utc_now(),
        ),
        processed=len(enriched),
        rejected=len(rejected),
        partitions=outputs,
    )
    return ChunkOutcome(
        index=payload.chunk.index,
        received=payload.chunk.records,
        processed=entry.processed if entry.status is ChunkStatus.STORED else 0,
        rejected=entry.rejected if entry.status is ChunkStatus.STORED else 0,
        failed=entry.failed,
    )


def partition_records(
    records: list[StagedRecord[Any]],
    partition_date: Callable[[Any], date],
    stamp: dict[str, datetime],
) -> dict[date, list[StagedRecord[Any]]]:
    """The records by date partition, each with the store's timestamp."""
    partitions: dict[date, list[StagedRecord[Any]]] = defaultdict(list)
    for staged in records:
        partitions[partition_date(staged.record)].append(restaged(staged, staged.record, stamp))
    return partitions


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Store`` state."""
    return run_chunk_stage(
        StageName.STORE, event, context, store, lambda _, outcome: outcome.stage_counts()
    )
