"""Validate: check every raw row of a chunk against its dataset's rules.

Valid rows go on as typed records; rejected rows are kept with every reason, so
records in = valid + rejected for every chunk. Before its dataset's rules, every row is
held to the limits any record must keep (``shared/limits.py``): one oversized or
malformed record is rejected on its own, with its reason, and never fails its chunk.
The chunk ledger learns that the chunk is running, and in which execution (a Map Run
child on AWS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.clock import utc_now
from shared.datasets import get_dataset
from shared.ledger import StageProgress
from shared.limits import kept_reasons, kept_values, poison_reasons
from shared.models import (
    ANY_STAGED_RECORD,
    ChunkPayload,
    Lineage,
    RawRow,
    RejectedRecord,
    StagedRecord,
    StageName,
)
from shared.objects import chunk_key
from stages.chunk_mapping import passed_on, run_chunk_stage

if TYPE_CHECKING:
    from datetime import datetime

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.context import PipelineContext

__all__ = ["handler", "validate", "validate_rows"]


def validate(payload: ChunkPayload, ctx: PipelineContext) -> ChunkPayload:
    """Validate a chunk's rows; write valid and rejected records to S3 and return their keys.

    Raises:
        UnknownDatasetError: the payload names no registered dataset.
        ChunkObjectMissingError: the chunk's raw object is not in S3.
    """
    started = utc_now()
    rows = ctx.processed.get_models(payload.chunk.key, RawRow)
    valid, rejected = validate_rows(rows, payload, started)
    validated_key = chunk_key(payload.batch_id, payload.chunk.index, "validated")
    ctx.processed.put_models(validated_key, valid)
    if rejected:  # Store reads rejects only when the payload counts some
        ctx.processed.put_models(
            chunk_key(payload.batch_id, payload.chunk.index, "rejected"), rejected
        )
    ctx.ledger.record_stage(
        payload.batch_id,
        payload.chunk,
        StageName.VALIDATE,
        StageProgress(
            received=len(rows),
            processed=len(valid),
            rejected=len(rejected),
            started_at=started,
            finished_at=utc_now(),
        ),
        execution_arn=payload.chunk_execution_arn or payload.execution_arn,
    )
    return payload.model_copy(update={"current_key": validated_key, "rejected": len(rejected)})


def validate_rows(
    rows: list[RawRow], payload: ChunkPayload, started: datetime
) -> tuple[list[StagedRecord[Any]], list[RejectedRecord]]:
    """Split a chunk's rows into typed records and rejects, each with its lineage.

    Raises:
        UnknownDatasetError: the payload names no registered dataset.
    """
    dataset = get_dataset(payload.dataset)
    valid: list[StagedRecord[Any]] = []
    rejected: list[RejectedRecord] = []
    for row in rows:
        lineage = Lineage(
            batch_id=payload.batch_id,
            execution_arn=payload.execution_arn,
            source_key=payload.source_key,
            line=row.line,
            replay_of=row.origin,
            validated_at=started,
        )
        if row.problem is not None:
            result: Any = [row.problem]
        else:
            result = poison_reasons(row.values) or dataset.validate(row.values)
        if isinstance(result, list):
            rejected.append(
                RejectedRecord(
                    lineage=lineage, values=kept_values(row.values), reasons=kept_reasons(result)
                )
            )
        else:
            valid.append(ANY_STAGED_RECORD(lineage=lineage, record=result))
    return valid, rejected


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Validate`` state."""
    return run_chunk_stage(StageName.VALIDATE, event, context, validate, passed_on)
