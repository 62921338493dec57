"""The adapters a handler works with, built once per process from the settings.

Pure stage functions take a ``PipelineContext`` argument instead of reaching for
globals, so tests can hand them a context over moto (or over anything else).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from shared import aws
from shared.batches import BatchRepository
from shared.objects import ObjectStore
from shared.records import RecordRepository
from shared.settings import Settings, get_settings

__all__ = ["PipelineContext", "get_context"]


@dataclass(frozen=True)
class PipelineContext:
    """Settings plus the repositories and object stores over them."""

    settings: Settings
    batches: BatchRepository
    records: RecordRepository
    raw: ObjectStore
    processed: ObjectStore


@functools.cache
def get_context() -> PipelineContext:
    """Return this process's context, built on first use."""
    settings = get_settings()
    database = aws.dynamodb()
    return PipelineContext(
        settings=settings,
        batches=BatchRepository(database.Table(settings.batches_table)),
        records=RecordRepository(database.Table(settings.records_table)),
        raw=ObjectStore(aws.s3(), settings.raw_bucket),
        processed=ObjectStore(aws.s3(), settings.processed_bucket),
    )
