"""What the per-chunk stages share: their handler's shape, and transform and enrich's mapping.

Every per-chunk stage runs through ``run_chunk_stage``, which notes a failed invocation
in the chunk ledger before the error goes back to the state machine (which may retry
it): so the batch's summary shows how many attempts each stage needed, without reading
any child execution's history. Transform and enrich are "one record in, one record
out" over a dataset function (``map_chunk``); only the models, the function and the
lineage timestamp differ.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from shared.clock import utc_now
from shared.context import PipelineContext, get_context
from shared.errors import InvalidStatePayloadError
from shared.lambda_runtime import run_stage
from shared.ledger import PartitionOutput, StageProgress
from shared.models import ChunkPayload, RecordCounts, StagedRecord, StageName, restaged
from shared.objects import chunk_key
from shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date, datetime

    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import BaseModel

OutputT = TypeVar("OutputT", bound="BaseModel")

__all__ = ["error_name", "map_chunk", "map_records", "passed_on", "run_chunk_stage"]


def error_name(error: BaseException) -> str:
    """Name an error as an operator needs it: the AWS error code and operation, or the class."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "ClientError")
        return f"{code} on {error.operation_name}"
    return type(error).__name__


def passed_on(payload: ChunkPayload, result: ChunkPayload) -> RecordCounts:
    """What validate, transform or enrich did to a chunk's records.

    The chunk's still-valid records went in; this stage's rejects are the growth of the
    payload's running reject count.
    """
    received = payload.chunk.records - payload.rejected
    rejected = result.rejected - payload.rejected
    return RecordCounts(received=received, processed=received - rejected, rejected=rejected)


def run_chunk_stage(
    stage: StageName,
    event: Any,
    context: LambdaContext | None,
    work: Callable[[ChunkPayload, PipelineContext], OutputT],
    counts: Callable[[ChunkPayload, OutputT], RecordCounts],
) -> dict[str, Any]:
    """Run a per-chunk stage's handler; a failed invocation is counted in the chunk ledger.

    ``counts`` is the stage's account of what it did (``passed_on`` for a stage that
    passes the chunk on).

    Raises:
        Whatever ``work`` raises, unchanged (the state machine retries or catches it).
    """

    def counted(payload: ChunkPayload) -> OutputT:
        ctx = get_context()
        try:
            return work(payload, ctx)
        except Exception as err:
            _note_failed_attempt(ctx, payload, stage, err)
            raise

    return run_stage(stage.value, event, context, ChunkPayload, counted, counts)


def _note_failed_attempt(
    ctx: PipelineContext, payload: ChunkPayload, stage: StageName, error: Exception
) -> None:
    try:
        ctx.ledger.record_failed_attempt(payload.batch_id, payload.chunk, stage, error_name(error))
    except Exception as note_error:  # noqa: BLE001 - the stage's own error is the one to report
        logger.warning(
            "could not count a failed attempt in the ledger",
            extra={"error": error_name(note_error)},
        )


def map_chunk(
    payload: ChunkPayload,
    ctx: PipelineContext,
    stage: StageName,
    input_model: type[BaseModel],
    function: Callable[[Any], BaseModel],
    partition_date: Callable[[Any], date] | None = None,
) -> ChunkPayload:
    """Apply ``function`` to every record of the chunk and write the results under the stage.

    With ``partition_date``, the date partitions the results will be stored in are
    recorded in the ledger with the stage's progress (enrich does, for Store).

    Every record of the chunk gets the same stage timestamp (when the stage started on it).

    Raises:
        InvalidStatePayloadError: the payload names no input object, or it holds other records.
        ChunkObjectMissingError: the input object is not in S3.
    """
    if payload.current_key is None:
        raise InvalidStatePayloadError(f"{stage.value} needs current_key in its payload")
    started = utc_now()
    records = ctx.processed.get_models(payload.current_key, StagedRecord[input_model])  # type: ignore[valid-type]
    output = map_records(records, function, {f"{_PAST_TENSE[stage]}_at": started})
    output_key = chunk_key(payload.batch_id, payload.chunk.index, _PAST_TENSE[stage])
    ctx.processed.put_models(output_key, output)
    ctx.ledger.record_stage(
        payload.batch_id,
        payload.chunk,
        stage,
        StageProgress(
            received=len(records),
            processed=len(output),
            started_at=started,
            finished_at=utc_now(),
        ),
        partitions=None if partition_date is None else _partitions(output, partition_date),
    )
    return payload.model_copy(update={"current_key": output_key})


def map_records(
    records: list[StagedRecord[Any]],
    function: Callable[[Any], BaseModel],
    stamp: dict[str, datetime],
) -> list[StagedRecord[Any]]:
    """``function`` of every record, each with its lineage and the stage's timestamp."""
    return [restaged(staged, function(staged.record), stamp) for staged in records]


def _partitions(
    records: list[StagedRecord[Any]], partition_date: Callable[[Any], date]
) -> list[PartitionOutput]:
    counts = Counter(partition_date(staged.record) for staged in records)
    return [PartitionOutput(date=d, records=counts[d]) for d in sorted(counts)]


_PAST_TENSE = {
    StageName.TRANSFORM: "transformed",
    StageName.ENRICH: "enriched",
}
