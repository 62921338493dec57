"""The batches table's batch items: what a batch is, and the summary of its chunk ledger.

A batch item is created once (``RECEIVED``, or ``FAILED`` for an upload that is not
what it declared), moves to ``RUNNING`` when its execution starts, learns its size when
``split`` has read the source, and ends with a terminal status. Its counters
(``chunks_stored``, ``processed``, per-stage progress ...) are written only by the chunk
ledger (``shared/ledger.py``), in the same transaction as the chunk item they sum, so
they never count a retried chunk twice. Reading a batch is one ``GetItem``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict

from shared.dynamo import (
    decode_page_token,
    encode_page_token,
    from_item,
    put_new,
    to_item,
    update_if,
)
from shared.errors import BatchNotFoundError
from shared.ledger import stage_counter
from shared.models import (
    TERMINAL_STATUSES,
    BatchOutcome,
    BatchSource,
    BatchStatus,
    BatchView,
    ChunkProgress,
    ContentEncoding,
    ErrorInfo,
    HandledMark,
    RecordCounts,
    ReplayChild,
    ReplayParent,
    RunInfo,
    RunKind,
    StageName,
    StageSummary,
)
from shared.pricing import Cost, Usage, price
from shared.usage import ESTIMATED

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = [
    "BATCH_ITEM",
    "USAGE_PREFIX",
    "LISTING_INDEX",
    "MAX_RUNS",
    "BatchRepository",
    "NewBatch",
    "execution_name",
    "run_of",
]

BATCH_ITEM = "batch"
LISTING_INDEX = "by-received"
_LISTING_PARTITION = "batch"
# A batch's counted usage: one numeric attribute per ``Usage`` field, added to (ADD).
USAGE_PREFIX = "usage_"
# The running total over every batch, in its own partition ("~" is no batch id character).
_TOTAL_KEY = {"batch_id": "~usage", "item": "total"}
# Retries a batch may have (its runs are listed on its item, which must stay small).
MAX_RUNS = 50


def execution_name(batch_id: str, run: int) -> str:
    """The name of a batch's execution for one run: the batch id, then ``-r<run>`` for retries."""
    return batch_id if run == 0 else f"{batch_id}-r{run}"


def run_of(batch_id: str, execution_arn: str | None) -> int:
    """Which run of the batch an execution is (0 when it is not one of its retries)."""
    if execution_arn is None:
        return 0
    name = execution_arn.rsplit(":", 1)[-1]
    suffix = name.removeprefix(f"{batch_id}-r")
    return int(suffix) if suffix != name and suffix.isdigit() else 0


class NewBatch(BaseModel):
    """A batch as ingestion creates it (from a request body or an arrived upload)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str
    dataset: str
    content_type: str
    content_encoding: ContentEncoding | None = None
    source: BatchSource = BatchSource.REQUEST
    raw_key: str
    raw_version: str | None = None
    filename: str | None = None
    size_bytes: int | None = None
    payload_sha256: str
    records_received: int
    received_at: datetime
    idempotency_key: str | None = None
    replay_of: ReplayParent | None = None


class BatchRepository:
    """Reads and writes batch items."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, batch: NewBatch, failed: ErrorInfo | None = None) -> bool:
        """Store a new batch as ``RECEIVED`` (or ``FAILED`` with ``failed``).

        Returns False, and changes nothing, if a batch with that id exists already.
        """
        status = BatchStatus.RECEIVED if failed is None else BatchStatus.FAILED
        extra: dict[str, Any] = {
            "item": BATCH_ITEM,
            "status": status.value,
            "listing": _LISTING_PARTITION,
            "received_order": f"{batch.received_at.isoformat()}#{batch.batch_id}",
        }
        if failed is not None:
            extra["error"] = failed.model_dump(mode="json", exclude_none=True)
            extra["finished_at"] = batch.received_at.isoformat()
        return put_new(self._table, to_item(batch, **extra), key="batch_id")

    def payload_digest(self, batch_id: str) -> str | None:
        """Return the SHA-256 of a batch's body, or None if there is no such batch."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM}, ProjectionExpression="payload_sha256"
        )
        item = response.get("Item")
        return str(item["payload_sha256"]) if item else None

    def exists(self, batch_id: str) -> bool:
        """Tell whether a batch has this id."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM}, ProjectionExpression="batch_id"
        )
        return "Item" in response

    def get(self, batch_id: str) -> BatchView:
        """Return a batch with its progress (one read: the summary, not the chunks).

        Raises:
            BatchNotFoundError: no batch has this id.
        """
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            raise BatchNotFoundError(f"no batch has id {batch_id!r}")
        return _view(from_item(item))

    def raw_version(self, batch_id: str) -> str | None:
        """Return the S3 version of the batch's raw object it was created from, if recorded."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM}, ProjectionExpression="raw_version"
        )
        value = response.get("Item", {}).get("raw_version")
        return None if value is None else str(value)

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
        views = [_view(from_item(item)) for item in response["Items"]]
        return views, encode_page_token(response.get("LastEvaluatedKey"))

    def mark_running(self, batch_id: str, execution_arn: str, now: datetime) -> None:
        """Record the execution that runs the batch; a batch past ``RECEIVED`` keeps its status."""
        update_if(
            self._table,
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

    def record_split_progress(self, batch_id: str, records: int, bytes_read: int) -> None:
        """Note how far ``split`` has read (for progress bars on large files)."""
        self._table.update_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM},
            UpdateExpression="SET split_records = :records, split_bytes_read = :bytes",
            ConditionExpression="attribute_exists(batch_id)",
            ExpressionAttributeValues={":records": records, ":bytes": bytes_read},
        )

    def record_split(self, batch_id: str, records_received: int, chunks_total: int) -> None:
        """Record what ``split`` found: the records received and the chunks they make.

        ``SET``, not ``ADD``: a retried split writes the same numbers again.
        """
        self._table.update_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM},
            UpdateExpression=(
                "SET records_received = :records, chunks_total = :chunks, split_records = :records"
            ),
            ConditionExpression="attribute_exists(batch_id)",
            ExpressionAttributeValues={":records": records_received, ":chunks": chunks_total},
        )

    def finish(self, outcome: BatchOutcome, now: datetime) -> bool:
        """Store a batch's terminal status and error (its counts are the ledger's).

        Only the batch's latest run may finish it: a run that a retry has replaced since
        changes nothing, and False is returned.
        """
        run = self._run_with(outcome.batch_id, outcome.execution_arn)
        names = {"#status": "status", "#error": "error", "#finished": "finished_at"}
        values: dict[str, Any] = {
            ":status": outcome.status.value,
            ":now": now.isoformat(),
            ":arn": outcome.execution_arn,
        }
        expression = "SET #status = :status, #finished = :now"
        if run > 0:
            names["#runs"] = "runs"
            expression += f", #runs[{run}].#status = :status, #runs[{run}].#finished = :now"
        if outcome.error is not None:
            expression += ", #error = :error"
            values[":error"] = to_item(outcome.error)
        else:
            expression += " REMOVE #error"
        if update_if(
            self._table,
            Key={"batch_id": outcome.batch_id, "item": BATCH_ITEM},
            UpdateExpression=expression,
            ConditionExpression=(
                "attribute_exists(batch_id) "
                "AND (attribute_not_exists(execution_arn) OR execution_arn = :arn)"
            ),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        ):
            return True
        if not self.exists(outcome.batch_id):
            raise BatchNotFoundError(f"no batch has id {outcome.batch_id!r}")
        return False

    def _run_with(self, batch_id: str, execution_arn: str) -> int:
        """The latest listed run (0 when none is) that ran under ``execution_arn``."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": BATCH_ITEM}, ProjectionExpression="runs"
        )
        runs: list[dict[str, Any]] = from_item(response.get("Item", {})).get("runs", [])
        listed = [i for i, r in enumerate(runs) if r.get("execution_arn") == execution_arn]
        return listed[-1] if listed else 0

    def add_usage(self, batch_id: str, usage: Usage, new_batch: bool = False) -> None:
        """Add what an invocation or request used to its batch and to the running total.

        ADD, not SET: every invocation adds its own part (a retried one costs again).
        A batch that does not exist (refused before it was stored) adds nothing.
        """
        amounts = {
            f"{USAGE_PREFIX}{name}": Decimal(str(round(value, 9)))
            for name, value in usage.model_dump().items()
            if value
        }
        if not amounts:
            return
        names = {f"#u{i}": name for i, name in enumerate(amounts)}
        values = {f":u{i}": amount for i, amount in enumerate(amounts.values())}
        expression = "ADD " + ", ".join(f"#u{i} :u{i}" for i in range(len(amounts)))
        if not update_if(
            self._table,
            Key={"batch_id": batch_id, "item": BATCH_ITEM},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(batch_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        ):
            return
        if new_batch:
            names["#batches"] = "batches"
            values[":one"] = Decimal(1)
            expression += ", #batches :one"
        self._table.update_item(
            Key=_TOTAL_KEY,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def total_cost(self) -> tuple[Cost, int]:
        """What every batch so far has cost, and how many batches there were."""
        item = from_item(self._table.get_item(Key=_TOTAL_KEY).get("Item") or {})
        return price(_usage(item), ESTIMATED), int(item.get("batches", 0))

    def mark_handled(self, batch_id: str, mark: HandledMark) -> bool:
        """Note on a batch that someone dealt with its failure; False if there is no batch."""
        return update_if(
            self._table,
            Key={"batch_id": batch_id, "item": BATCH_ITEM},
            UpdateExpression="SET handled = :mark",
            ConditionExpression="attribute_exists(batch_id)",
            ExpressionAttributeValues={":mark": to_item(mark)},
        )

    def add_replay(self, batch_id: str, child: ReplayChild) -> None:
        """List a replay on its parent batch (once: a repeated replay adds nothing)."""
        update_if(
            self._table,
            Key={"batch_id": batch_id, "item": BATCH_ITEM},
            UpdateExpression=(
                "SET replays = list_append(if_not_exists(replays, :none), :child) "
                "ADD replay_ids :ids"
            ),
            ConditionExpression="attribute_exists(batch_id) AND NOT contains(replay_ids, :id)",
            ExpressionAttributeValues={
                ":none": [],
                ":child": [child.model_dump(mode="json")],
                ":ids": {child.batch_id},
                ":id": child.batch_id,
            },
        )

    def claim_run(self, batch: BatchView, run: RunInfo, now: datetime) -> bool:
        """Start a new run of a batch: it is ``RUNNING`` again, under the run's execution.

        The batch must still be as ``batch`` shows it (same status, same runs): of two
        concurrent retries, one claims the run and the other gets False.
        """
        runs = [r.model_dump(mode="json") for r in batch.runs] if batch.runs else []
        if not runs:
            runs = [_initial_run(batch).model_dump(mode="json")]
        runs.append(run.model_dump(mode="json"))
        return update_if(
            self._table,
            Key={"batch_id": batch.batch_id, "item": BATCH_ITEM},
            UpdateExpression=(
                "SET #status = :running, execution_arn = :arn, started_at = :now, "
                "#runs = :runs REMOVE #error, finished_at"
            ),
            ConditionExpression=(
                "#status = :was AND (attribute_not_exists(#runs) OR size(#runs) = :count)"
            ),
            ExpressionAttributeNames={"#status": "status", "#error": "error", "#runs": "runs"},
            ExpressionAttributeValues={
                ":running": BatchStatus.RUNNING.value,
                ":was": batch.status.value,
                ":arn": run.execution_arn,
                ":now": now.isoformat(),
                ":runs": json.loads(json.dumps(runs), parse_float=Decimal),
                ":count": len(batch.runs),
            },
        )


def counts_of(batch: dict[str, Any]) -> RecordCounts:
    """A batch's counts from its item; once it has failed, whatever is not stored has failed."""
    received = int(batch.get("records_received", 0))
    processed, rejected = int(batch.get("processed", 0)), int(batch.get("rejected", 0))
    failed = int(batch.get("failed", 0))
    if batch.get("status") == BatchStatus.FAILED.value:
        failed = max(received - processed - rejected, failed)
    return RecordCounts(received=received, processed=processed, rejected=rejected, failed=failed)


def _stages(batch: dict[str, Any]) -> dict[StageName, StageSummary]:
    stages: dict[StageName, StageSummary] = {}
    for stage in StageName:
        done = int(batch.get(stage_counter(stage, "chunks"), 0))
        errors = int(batch.get(stage_counter(stage, "errors"), 0))
        if done or errors:
            stages[stage] = StageSummary(
                chunks_done=done,
                received=int(batch.get(stage_counter(stage, "in"), 0)),
                processed=int(batch.get(stage_counter(stage, "out"), 0)),
                rejected=int(batch.get(stage_counter(stage, "rejected"), 0)),
                failed_attempts=errors,
                chunks_caught=int(batch.get(stage_counter(stage, "caught"), 0)),
                last_error=batch.get(stage_counter(stage, "last_error")),
                started_at=batch.get(stage_counter(stage, "started_at")),
                finished_at=batch.get(stage_counter(stage, "finished_at")),
            )
    return stages


def _chunks(batch: dict[str, Any]) -> ChunkProgress:
    total = batch.get("chunks_total")
    running = int(batch.get("chunks_running", 0))
    stored = int(batch.get("chunks_stored", 0))
    failed = int(batch.get("chunks_failed", 0))
    pending = max(int(total) - running - stored - failed, 0) if total is not None else 0
    return ChunkProgress(
        total=total, pending=pending, running=running, stored=stored, failed=failed
    )


def _usage(item: dict[str, Any]) -> Usage:
    return Usage(
        **{
            name: item[f"{USAGE_PREFIX}{name}"]
            for name in Usage.model_fields
            if f"{USAGE_PREFIX}{name}" in item
        }
    )


def _initial_run(batch: BatchView) -> RunInfo:
    """The first run of a batch, from its item (before any retry has listed its runs)."""
    return RunInfo(
        run=0,
        kind=RunKind.INITIAL,
        execution_arn=batch.execution_arn,
        requested_at=batch.received_at,
        finished_at=batch.finished_at,
        status=batch.status if batch.status in TERMINAL_STATUSES else None,
    )


def _view(batch: dict[str, Any]) -> BatchView:
    chunks = _chunks(batch)
    status = BatchStatus(batch["status"])
    view = BatchView(
        batch_id=batch["batch_id"],
        dataset=batch["dataset"],
        status=status,
        source=batch.get("source", BatchSource.REQUEST),
        content_type=batch["content_type"],
        content_encoding=batch.get("content_encoding"),
        filename=batch.get("filename"),
        size_bytes=batch.get("size_bytes"),
        raw_key=batch["raw_key"],
        received_at=batch["received_at"],
        started_at=batch.get("started_at"),
        finished_at=batch.get("finished_at"),
        execution_arn=batch.get("execution_arn"),
        counts=counts_of(batch),
        chunks_total=chunks.total,
        chunks_failed=chunks.failed,
        chunks=chunks,
        # Only while split is reading: once it has counted the chunks, they tell the progress.
        split_bytes_read=(
            batch.get("split_bytes_read")
            if chunks.total is None and status not in TERMINAL_STATUSES
            else None
        ),
        stages=_stages(batch),
        error=batch.get("error"),
        runs=batch.get("runs", []),
        replay_of=batch.get("replay_of"),
        replays=batch.get("replays", []),
        cost=price(_usage(batch), ESTIMATED),
        handled=batch.get("handled"),
    )
    if not view.runs and view.execution_arn is not None:
        view = view.model_copy(update={"runs": [_initial_run(view)]})
    return view
