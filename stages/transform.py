"""Transform: turn each valid record of a chunk into its typed, normalised form.

For flights: UTC timestamps, cancelled/diverted flags, a delay category.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.datasets import get_dataset
from shared.models import ChunkPayload, StageName
from stages.chunk_mapping import map_chunk, passed_on, run_chunk_stage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.context import PipelineContext

__all__ = ["handler", "transform"]


def transform(payload: ChunkPayload, ctx: PipelineContext) -> ChunkPayload:
    """Transform every record of the chunk and return the payload naming the new object.

    Raises:
        UnknownDatasetError: the payload names no registered dataset.
        ChunkObjectMissingError: the input object is not in S3.
    """
    dataset = get_dataset(payload.dataset)
    return map_chunk(payload, ctx, StageName.TRANSFORM, dataset.valid_model, dataset.transform)


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point of the ``Transform`` state."""
    return run_chunk_stage(StageName.TRANSFORM, event, context, transform, passed_on)
