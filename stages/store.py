"""Store: write a chunk's enriched records to DynamoDB and S3, and its rejects to DynamoDB.

DynamoDB keys and S3 keys are derived from the batch, chunk and line, so storing the
same chunk twice leaves exactly one copy of each record.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from shared.batches import StageProgress
from shared.clock import utc_now
from shared.context import PipelineContext, get_context
from shared.datasets import get_dataset
from shared.errors import InvalidStatePayloadError
from shared.lambda_runtime import run_stage
from shared.models import ChunkOutcome, ChunkPayload, RejectedRecord, StagedRecord, StageName
from shared.objects import chunk_key, processed_key

if TYPE_CHECKING:
    from datetime import date

    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["handler", "store"]


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
    enriched = ctx.raw.get_models(
        payload.current_key,
        StagedRecord[dataset.enriched_model],  # type: ignore[name-defined]
    )
    rejected = ctx.raw.get_models(
        chunk_key(payload.batch_id, payload.chunk.index, "rejected"), RejectedRecord
    )
    stored_at = utc_now()
    processed = [
        staged.model_copy(
            update={"lineage": staged.lineage.model_copy(update={"stored_at": stored_at})}
        )
        for staged in enriched
    ]
    ctx.records.put_processed(
        dataset.name, ((staged, dataset.index_keys(staged.record)) for staged in processed)
    )
    ctx.records.put_rejected(dataset.name, rejected)
    partitions: dict[date, list[StagedRecord[Any]]] = defaultdict(list)
    for staged in processed:
        partitions[dataset.partition_date(staged.record)].append(staged)
    for partition, records in sorted(partitions.items()):
        key = processed_key(dataset.name, partition, payload.batch_id, payload.chunk.index)
        ctx.processed.put_models(key, records)
    ctx.batches.record_stage(
        payload.batch_id,
        payload.chunk.index,
        StageName.STORE,
        StageProgress(
            records_in=len(enriched) + len(rejected),
            records_out=len(processed),
            rejected=len(rejected),
            started_at=started,
            finished_at=utc_now(),
        ),
    )
    return ChunkOutcome(
        index=payload.chunk.index,
        records=payload.chunk.records,
        processed=len(processed),
        rejected=len(rejected),
        failed=payload.chunk.records - len(processed) - len(rejected),
    )


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Store`` state."""
    return run_stage("store", event, context, ChunkPayload, lambda p: store(p, get_context()))
