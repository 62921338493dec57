"""Bodies of the API's newer routes: chunks, datasets and their records (API-only shapes)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.execution_view import ExecutionView
from shared.audit import AuditEntry
from shared.datasets.base import Display
from shared.ledger import ChunkEntry, ChunkState
from shared.models import BatchId, BatchView, Count
from shared.pricing import Cost

__all__ = [
    "AuditPage",
    "BatchAccepted",
    "BatchPage",
    "ChunkDetail",
    "ChunkListing",
    "ChunkPage",
    "DatasetInfo",
    "DatasetList",
    "ErrorBody",
    "PartitionPage",
    "RecordPage",
    "UsageTotal",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class ChunkListing(ChunkState):
    """A chunk in a listing: its state, and how many processed objects it wrote (not which).

    An unsorted source can put a chunk's records in hundreds of date partitions; the
    list of them is in the chunk's own detail, so a page of chunks stays small.
    """

    partitions_written: int = Field(ge=0)

    @classmethod
    def of(cls, entry: ChunkEntry) -> ChunkListing:
        """The listing of a ledger entry."""
        return cls(
            **entry.model_dump(exclude={"partitions"}), partitions_written=len(entry.partitions)
        )


class ChunkPage(BaseModel):
    """One page of a batch's chunk ledger, in chunk order."""

    model_config = _FROZEN

    chunks: list[ChunkListing]
    next: str | None = None


class ChunkDetail(BaseModel):
    """One chunk: its ledger entry and, on AWS, its child execution's history."""

    model_config = _FROZEN

    chunk: ChunkEntry
    execution: ExecutionView | None = Field(
        default=None,
        description=(
            "The Map Run child that ran the chunk (AWS). Locally the chunks run inside "
            "the batch's execution, and the ledger entry is the whole story."
        ),
    )


class DatasetInfo(BaseModel):
    """A registered dataset: its CSV header, its record filters and how to show a record."""

    model_config = _FROZEN

    name: str
    csv_columns: list[str]
    filters: list[str]
    display: Display


class DatasetList(BaseModel):
    """``GET /datasets``."""

    model_config = _FROZEN

    datasets: list[DatasetInfo]


class PartitionPage(BaseModel):
    """One page of a dataset's processed records for one date, across batches."""

    model_config = _FROZEN

    dataset: str
    date: date
    filters: dict[str, str]
    records: list[dict[str, Any]]
    next: str | None = None


class UsageTotal(BaseModel):
    """The answer to ``GET /usage``: the cost of every batch so far."""

    model_config = _FROZEN

    cost: Cost
    batches: int = Field(ge=0, description="How many batches the total covers.")


class AuditPage(BaseModel):
    """One page of the audit trail, newest first."""

    model_config = _FROZEN

    entries: list[AuditEntry]
    next: str | None = None


class BatchAccepted(BaseModel):
    """The answer to ``POST /batches``."""

    model_config = _FROZEN

    batch_id: BatchId
    status_url: str
    records_received: Count
    duplicate: bool = Field(
        default=False, description="True when an earlier post with this Idempotency-Key made it."
    )


class BatchPage(BaseModel):
    """One page of batches, newest first."""

    model_config = _FROZEN

    batches: list[BatchView]
    next: str | None = None


class RecordPage(BaseModel):
    """One page of a batch's processed or rejected records."""

    model_config = _FROZEN

    status: str
    records: list[dict[str, Any]]
    next: str | None = None


class ErrorBody(BaseModel):
    """Every 4xx answer: a stable code, a message and optional details."""

    model_config = _FROZEN

    code: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)
