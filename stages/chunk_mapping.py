"""What transform and enrich share: read a chunk's records, apply a pure function to each, write.

Both stages are "one record in, one record out" over a dataset function; only the
models, the function and the lineage timestamp differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.batches import StageProgress
from shared.clock import utc_now
from shared.errors import InvalidStatePayloadError
from shared.models import ChunkPayload, StagedRecord, StageName
from shared.objects import chunk_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

    from shared.context import PipelineContext

__all__ = ["map_chunk"]


def map_chunk(
    payload: ChunkPayload,
    ctx: PipelineContext,
    stage: StageName,
    input_model: type[BaseModel],
    function: Callable[[Any], BaseModel],
) -> ChunkPayload:
    """Apply ``function`` to every record of the chunk and write the results under the stage.

    Raises:
        InvalidStatePayloadError: the payload names no input object, or it holds other records.
        ChunkObjectMissingError: the input object is not in S3.
    """
    if payload.current_key is None:
        raise InvalidStatePayloadError(f"{stage.value} needs current_key in its payload")
    started = utc_now()
    records = ctx.raw.get_models(payload.current_key, StagedRecord[input_model])  # type: ignore[valid-type]
    stamp = f"{_PAST_TENSE[stage]}_at"
    output = [
        StagedRecord[Any](
            lineage=staged.lineage.model_copy(update={stamp: utc_now()}),
            record=function(staged.record),
        )
        for staged in records
    ]
    output_key = chunk_key(payload.batch_id, payload.chunk.index, _PAST_TENSE[stage])
    ctx.raw.put_models(output_key, output)
    ctx.batches.record_stage(
        payload.batch_id,
        payload.chunk.index,
        stage,
        StageProgress(
            records_in=len(records),
            records_out=len(output),
            started_at=started,
            finished_at=utc_now(),
        ),
    )
    return payload.model_copy(update={"current_key": output_key})


_PAST_TENSE = {
    StageName.VALIDATE: "validated",
    StageName.TRANSFORM: "transformed",
    StageName.ENRICH: "enriched",
    StageName.STORE: "stored",
}
