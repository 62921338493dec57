"""Enrich: join each transformed record with the dataset's lookup tables.

A missing lookup is a recorded gap on the record, not a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.datasets import get_dataset
from shared.models import ChunkPayload, StageName
from stages.chunk_mapping import map_chunk, passed_on, run_chunk_stage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.context import PipelineContext

__all__ = ["handler", "enrich"]


def enrich(payload: ChunkPayload, ctx: PipelineContext) -> ChunkPayload:
    """Enrich every record of the chunk and return the payload naming the new object.

    Raises:
        UnknownDatasetError: the payload names no registered dataset.
        ChunkObjectMissingError: the input object is not in S3.
    """
    dataset = get_dataset(payload.dataset)
    return map_chunk(
        payload,
        ctx,
        StageName.ENRICH,
        dataset.transformed_model,
        dataset.enrich,
        partition_date=dataset.partition_date,
    )


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Enrich`` state."""
    return run_chunk_stage(StageName.ENRICH, event, context, enrich, passed_on)
