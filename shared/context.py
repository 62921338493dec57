"""The adapters a handler works with, built once per process from the settings.

Pure stage functions take a ``PipelineContext`` argument instead of reaching for
globals, so tests can hand them a context over moto (or over anything else).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from shared import aws
from shared.audit import AuditLog
from shared.batches import BatchRepository
from shared.ledger import ChunkLedger
from shared.objects import ObjectStore
from shared.records import ProcessedRecords, RejectRepository
from shared.settings import Settings, get_settings
from shared.uploads import UploadRepository

__all__ = ["PipelineContext", "get_context"]


@dataclass(frozen=True)
class PipelineContext:
    """Settings plus the repositories and object stores over them."""

    settings: Settings
    batches: BatchRepository
    ledger: ChunkLedger
    uploads: UploadRepository
    rejects: RejectRepository
    audit: AuditLog
    raw: ObjectStore
    processed: ObjectStore

    @property
    def processed_records(self) -> ProcessedRecords:
        """The reader of processed records in S3 (by batch, or by date partition)."""
        return ProcessedRecords(self.ledger, self.processed)


@functools.cache
def get_context() -> PipelineContext:
    """Return this process's context, built on first use."""
    settings = get_settings()
    database = aws.dynamodb()
    batches = database.Table(settings.batches_table)
    return PipelineContext(
        settings=settings,
        batches=BatchRepository(batches),
        ledger=ChunkLedger(batches),
        uploads=UploadRepository(batches),
        rejects=RejectRepository(database.Table(settings.records_table)),
        audit=AuditLog(batches),
        raw=ObjectStore(aws.s3(), settings.raw_bucket),
        processed=ObjectStore(aws.s3(), settings.processed_bucket),
    )
