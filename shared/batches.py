"""The batches table: one item per batch plus one per chunk, the pipeline's progress record.

Every write is idempotent: chunk progress is ``SET`` on a chunk item (never ``ADD``),
and the batch totals are computed from the Map state's outcomes, so a retried stage or
a re-run execution writes the same values again instead of counting twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from shared.dynamo import decode_page_token, encode_page_token, from_item, to_item
from shared.errors import BatchNotFoundError
from shared.models import (
    BatchCounts,
    BatchOutcome,
    BatchStatus,
    BatchView,
    ErrorInfo,
    StageName,
    StageSummary,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = ["BATCH_ITEM", "LISTING_INDEX", "BatchRepository", "NewBatch", "StageProgress"]

BATCH_ITEM = "batch"
LISTING_INDEX = "by-received"
_LISTING_PARTITION = "batch"
_CHUNK_PREFIX = "chunk#"


class NewBatch(BaseModel):
    """A batch as the API creates it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str
    dataset: str
    content_type: str
    raw_key: str
    payload_sha256: str
    records_received: int
    received_at: datetime
    idempotency_key: str | None = None


class StageProgress(BaseModel):
    """What one stage did to one chunk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    records_in: int
    records_out: int
    rejected: int = 0
    started_at: datetime
    finished_at: datetime


class BatchRepository:
    """Reads and writes batch and chunk items."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, batch: NewBatch) -> bool:
        """Store a new batch as ``RECEIVED``; return False if one with that id exists already."""
        item = to_item(
            batch,
            item=BATCH_ITEM,
            status=BatchStatus.RECEIVED.value,
            listing=_LISTING_PARTITION,
            received_order=f"{batch.received_at.isoformat()}#{batch.batch_id}",
        )
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(batch_id)")
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def payload_digest(self, batch_id: str) -> str | None:
        """Return the SHA-256 of a batch's body, or None if there is no such batch."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM}, ProjectionExpression="payload_sha256"
        )
        item = response.get("Item")
        return str(item["payload_sha256"]) if item else None

    def get(self, batch_id: str) -> BatchView:
        """Return a batch with its per-stage progress summed over its chunks.

        Raises:
            BatchNotFoundError: no batch has this id.
        """
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"KeyConditionExpression": Key("batch_id").eq(batch_id)}
        while True:
            response = self._table.query(**query)
            items.extend(from_item(item) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        batch = next((item for item in items if item["item"] == BATCH_ITEM), None)
        if batch is None:
            raise BatchNotFoundError(f"no batch has id {batch_id!r}")
        chunks = [item for item in items if item["item"].startswith(_CHUNK_PREFIX)]
        return _view(batch, chunks)

    def list(self, limit: int, token: str | None) -> tuple[list[BatchView], str | None]:
        """Return a page of batches, newest first, and the token of the next page."""
        query: dict[str, Any] = {
            "IndexName": LISTING_INDEX,
            "KeyConditionExpression": Key("listing").eq(_LISTING_PARTITION),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_page_token(
            token, frozenset({"batch_id", "item", "listing", "received_order"})
        )
        if start:
            query["ExclusiveStartKey"] = start
        response = self._table.query(**query)
        views = [_view(from_item(item), []) for item in response["Items"]]
        return views, encode_page_token(response.get("LastEvaluatedKey"))

    def mark_running(self, batch_id: str, execution_arn: str, now: datetime) -> None:
        """Record the execution that runs the batch; a batch past ``RECEIVED`` keeps its status."""
        try:
            self._table.update_item(
                Key={"batch_id": batch_id, "item": BATCH_ITEM},
                UpdateExpression="SET #status = :running, execution_arn = :arn, started_at = :now",
                ConditionExpression="attribute_exists(batch_id) AND #status = :received",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": BatchStatus.RUNNING.value,
                    ":received": BatchStatus.RECEIVED.value,
                    ":arn": execution_arn,
                    ":now": now.isoformat(),
                },
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def set_chunks_total(self, batch_id: str, chunks_total: int) -> None:
        """Record how many chunks the batch was split into."""
        self._table.update_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM},
            UpdateExpression="SET chunks_total = :total",
            ExpressionAttributeValues={":total": chunks_total},
        )

    def record_stage(
        self, batch_id: str, chunk_index: int, stage: StageName, progress: StageProgress
    ) -> None:
        """Record what a stage did to a chunk (overwrites an earlier attempt's record)."""
        self._table.update_item(
            Key={"batch_id": batch_id, "item": _chunk_item(chunk_index)},
            UpdateExpression="SET #stage = :progress",
            ExpressionAttributeNames={"#stage": stage.value},
            ExpressionAttributeValues={":progress": to_item(progress)},
        )

    def record_chunk_failure(self, batch_id: str, chunk_index: int, error: ErrorInfo) -> None:
        """Mark a chunk failed with the error that stopped it."""
        self._table.update_item(
            Key={"batch_id": batch_id, "item": _chunk_item(chunk_index)},
            UpdateExpression="SET #error = :error",
            ExpressionAttributeNames={"#error": "error"},
            ExpressionAttributeValues={":error": to_item(error)},
        )

    def finish(self, outcome: BatchOutcome, now: datetime) -> None:
        """Store a batch's terminal status, counts and error."""
        names = {
            "#status": "status",
            "#error": "error",
            "#processed": "processed",
            "#rejected": "rejected",
            "#failed": "failed",
            "#finished": "finished_at",
        }
        values: dict[str, Any] = {
            ":status": outcome.status.value,
            ":processed": outcome.counts.processed,
            ":rejected": outcome.counts.rejected,
            ":failed": outcome.counts.failed,
            ":now": now.isoformat(),
        }
        expression = (
            "SET #status = :status, #processed = :processed, #rejected = :rejected, "
            "#failed = :failed, #finished = :now"
        )
        if outcome.error is not None:
            expression += ", #error = :error"
            values[":error"] = to_item(outcome.error)
        else:
            expression += " REMOVE #error"
        self._table.update_item(
            Key={"batch_id": outcome.batch_id, "item": BATCH_ITEM},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(batch_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


def _chunk_item(index: int) -> str:
    return f"{_CHUNK_PREFIX}{index:05d}"


def _view(batch: dict[str, Any], chunks: list[dict[str, Any]]) -> BatchView:
    stages: dict[StageName, StageSummary] = {}
    for stage in StageName:
        done = [StageProgress.model_validate(c[stage.value]) for c in chunks if stage.value in c]
        if done:
            stages[stage] = StageSummary(
                chunks_done=len(done),
                records_in=sum(p.records_in for p in done),
                records_out=sum(p.records_out for p in done),
                rejected=sum(p.rejected for p in done),
                started_at=min(p.started_at for p in done),
                finished_at=max(p.finished_at for p in done),
            )
    return BatchView(
        batch_id=batch["batch_id"],
        dataset=batch["dataset"],
        status=batch["status"],
        content_type=batch["content_type"],
        raw_key=batch["raw_key"],
        received_at=batch["received_at"],
        started_at=batch.get("started_at"),
        finished_at=batch.get("finished_at"),
        execution_arn=batch.get("execution_arn"),
        counts=BatchCounts(
            received=batch["records_received"],
            processed=batch.get("processed", 0),
            rejected=batch.get("rejected", 0),
            failed=batch.get("failed", 0),
        ),
        chunks_total=batch.get("chunks_total"),
        chunks_failed=sum(1 for c in chunks if "error" in c),
        stages=stages,
        error=batch.get("error"),
    )
