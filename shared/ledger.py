"""The chunk ledger: one DynamoDB item per chunk, the source of truth for a batch's progress.

Each chunk item holds its status (``pending`` until a stage touches it, then
``running``, and finally ``stored`` or ``failed``), its counts, what each stage did to it,
the date partitions it wrote and its error. The batch item holds a summary of all of
them, kept current as chunks move: every change to a chunk item is written in one
DynamoDB transaction with the *difference* it makes to the summary's counters (its
contribution after, minus its contribution before). So a retried stage, a duplicate
invocation or a re-run chunk adds nothing twice, the summary always equals the sum over
the chunk items, and reading a batch's progress is one ``GetItem`` however many chunks
it has. Concurrent writers to one chunk are serialised by a version number (optimistic
locking); a lost race re-reads and tries again.
"""

from __future__ import annotations

import random
import time
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from shared.clock import utc_now
from shared.dynamo import (
    condition_failed,
    decode_page_token,
    encode_page_token,
    from_item,
    to_item,
    update_if,
)
from shared.errors import BatchNotFoundError, LedgerContentionError
from shared.models import ChunkRef, ErrorInfo, HandledMark, StageName

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb.service_resource import Table

__all__ = [
    "CHUNK_PREFIX",
    "ChunkEntry",
    "ChunkLedger",
    "ChunkState",
    "ChunkStatus",
    "PartitionOutput",
    "StageProgress",
    "chunk_item",
    "contribution",
    "stage_counter",
    "summary_delta",
]

CHUNK_PREFIX = "chunk#"
_BATCH_ITEM = "batch"
Count = Annotated[int, Field(ge=0)]


class ChunkStatus(StrEnum):
    """Where a chunk is: no stage has touched it, one has, or it is done one way or the other."""

    PENDING = "pending"
    RUNNING = "running"
    STORED = "stored"
    FAILED = "failed"


class StageProgress(BaseModel):
    """What one stage did to one chunk: records received, passed on (processed), rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Ledger items written before the counts had one vocabulary say records_in/records_out.
    received: Count = Field(validation_alias=AliasChoices("received", "records_in"))
    processed: Count = Field(validation_alias=AliasChoices("processed", "records_out"))
    rejected: Count = 0
    started_at: datetime
    finished_at: datetime


class PartitionOutput(BaseModel):
    """One processed object a chunk wrote: its date partition and how many records it holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: date
    records: Count


class ChunkState(BaseModel):
    """A chunk's ledger item but the list of objects it wrote (what a listing of chunks shows)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Count
    status: ChunkStatus = ChunkStatus.PENDING
    records: Count
    first_line: Annotated[int, Field(ge=1)]
    last_line: Annotated[int, Field(ge=1)]
    processed: Count = 0
    rejected: Count = 0
    failed: Count = 0
    stages: dict[StageName, StageProgress] = Field(default_factory=dict)
    failed_attempts: dict[StageName, Count] = Field(
        default_factory=dict, description="Invocations of each stage that failed on this chunk."
    )
    last_attempt_error: str | None = None
    last_attempt_stage: StageName | None = None
    failed_stage: StageName | None = Field(
        default=None, description="The stage whose failure (after its retries) failed the chunk."
    )
    error: ErrorInfo | None = None
    execution_arn: str | None = None
    run: Count = Field(default=0, description="The run of the batch that last took the chunk up.")
    handled: HandledMark | None = Field(
        default=None, description="Set when someone marked its failure handled in the inbox."
    )
    updated_at: datetime | None = None
    version: Count = 0

    @property
    def terminal(self) -> bool:
        """Whether the chunk is done, stored or failed."""
        return self.status in {ChunkStatus.STORED, ChunkStatus.FAILED}

    @property
    def stage_that_failed(self) -> StageName | None:
        """The stage a failure stopped at: the last to fail an attempt, else the first not done."""
        if self.last_attempt_stage is not None:
            return self.last_attempt_stage
        return next((s for s in StageName if s not in self.stages), None)


class ChunkEntry(ChunkState):
    """A chunk's ledger item: its state and the date partitions (processed objects) it wrote."""

    partitions: list[PartitionOutput] = Field(default_factory=list)

    @classmethod
    def pending(cls, chunk: ChunkRef) -> ChunkEntry:
        """The entry of a chunk no stage has touched yet."""
        return cls(
            index=chunk.index,
            records=chunk.records,
            first_line=chunk.first_line,
            last_line=chunk.last_line,
        )


def chunk_item(index: int) -> str:
    """The sort key of a chunk's item in the batches table."""
    return f"{CHUNK_PREFIX}{index:06d}"


def stage_counter(stage: StageName, what: str) -> str:
    """Name of a per-stage counter on the batch item (``validate_chunks``, ``store_in`` ...)."""
    return f"{stage.value}_{what}"


def contribution(entry: ChunkEntry | None) -> dict[str, int]:
    """What one chunk adds to its batch's summary counters (pure)."""
    if entry is None:
        return {}
    counters: dict[str, int] = {}
    if entry.status is not ChunkStatus.PENDING:
        counters[f"chunks_{entry.status.value}"] = 1
    if entry.status is ChunkStatus.STORED:
        counters["processed"] = entry.processed
        counters["rejected"] = entry.rejected
        counters["failed"] = entry.failed
    elif entry.status is ChunkStatus.FAILED:
        counters["failed"] = entry.failed
        if entry.failed_stage is not None:
            counters[stage_counter(entry.failed_stage, "caught")] = 1
    for stage, progress in entry.stages.items():
        counters[stage_counter(stage, "chunks")] = 1
        counters[stage_counter(stage, "in")] = progress.received
        counters[stage_counter(stage, "out")] = progress.processed
        counters[stage_counter(stage, "rejected")] = progress.rejected
    for stage, failures in entry.failed_attempts.items():
        counters[stage_counter(stage, "errors")] = failures
    return counters


class ChunkLedger:
    """Reads and moves chunk items, keeping the batch summary in step."""

    def __init__(
        self,
        table: Table,
        attempts: int = 10,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        # The resource's own client: it (de)serialises plain Python values, as the table does.
        self._client = table.meta.client
        self._attempts = attempts
        self._sleep = sleep

    # ----------------------------------------------------------------------- reads

    def get(self, batch_id: str, index: int) -> ChunkEntry | None:
        """Return a chunk's entry (strongly consistent), or None if no stage has touched it."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": chunk_item(index)}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else _entry(item)

    def page(
        self,
        batch_id: str,
        limit: int,
        token: str | None,
        status: ChunkStatus | None = None,
        max_scanned: int = 2_000,
    ) -> tuple[list[ChunkEntry], str | None]:
        """Return up to ``limit`` chunk entries in index order (of one status, if given).

        A status filter reads at most ``max_scanned`` items per call; the token goes on
        from there, so a page may hold fewer than ``limit`` entries and still have a next.
        """
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("batch_id").eq(batch_id)
            & Key("item").begins_with(CHUNK_PREFIX),
            "Limit": limit,
        }
        start = decode_page_token(token, frozenset({"batch_id", "item"}))
        if start and start["batch_id"] == batch_id:
            query["ExclusiveStartKey"] = start
        entries: list[ChunkEntry] = []
        scanned = 0
        while True:
            response = self._table.query(**query)
            scanned += response.get("ScannedCount", len(response["Items"]))
            for item in response["Items"]:
                entry = _entry(item)
                if status is None or entry.status is status:
                    entries.append(entry)
            last = response.get("LastEvaluatedKey")
            if status is None or last is None or len(entries) >= limit or scanned >= max_scanned:
                return entries[:limit], encode_page_token(last) if last else None
            query["ExclusiveStartKey"] = last
            query["Limit"] = limit - len(entries)

    # ----------------------------------------------------------------------- moves

    def record_stage(
        self,
        batch_id: str,
        chunk: ChunkRef,
        stage: StageName,
        progress: StageProgress,
        execution_arn: str | None = None,
        partitions: list[PartitionOutput] | None = None,
    ) -> ChunkEntry:
        """Record what a stage did to a chunk; the chunk is running unless it is done.

        ``partitions`` are the processed objects the chunk is going to write (enrich knows
        them): recorded before Store writes them, so that a failure withdraws them.
        A repeat with the same counts (a retried or duplicated invocation) changes nothing.
        """

        def change(entry: ChunkEntry) -> ChunkEntry | None:
            previous = entry.stages.get(stage)
            known = {p.date for p in entry.partitions}
            new_partitions = [p for p in partitions or [] if p.date not in known]
            repeat = previous is not None and _same_counts(previous, progress)
            # A retry's first stage takes the reopened (pending) chunk up even with the same counts.
            if repeat and not new_partitions and entry.status is not ChunkStatus.PENDING:
                return None
            merged = {p.date: p for p in entry.partitions} | {p.date: p for p in new_partitions}
            return entry.model_copy(
                update={
                    "status": entry.status if entry.terminal else ChunkStatus.RUNNING,
                    "stages": {**entry.stages, stage: progress},
                    "execution_arn": execution_arn or entry.execution_arn,
                    "partitions": [merged[d] for d in sorted(merged)],
                }
            )

        return self._apply(batch_id, chunk, change)

    def record_stored(
        self,
        batch_id: str,
        chunk: ChunkRef,
        progress: StageProgress,
        processed: int,
        rejected: int,
        partitions: list[PartitionOutput],
    ) -> ChunkEntry:
        """Mark a chunk stored with its counts; records it cannot account for count as failed."""

        def change(entry: ChunkEntry) -> ChunkEntry | None:
            if entry.status is ChunkStatus.STORED:
                return None
            return entry.model_copy(
                update={
                    "status": ChunkStatus.STORED,
                    "stages": {**entry.stages, StageName.STORE: progress},
                    "processed": processed,
                    "rejected": rejected,
                    "failed": max(chunk.records - processed - rejected, 0),
                    "partitions": partitions,
                    "error": None,
                }
            )

        return self._apply(batch_id, chunk, change)

    def record_failed(self, batch_id: str, chunk: ChunkRef, error: ErrorInfo) -> ChunkEntry:
        """Mark a chunk failed: none of its records is processed or rejected, all are failed."""

        def change(entry: ChunkEntry) -> ChunkEntry | None:
            if entry.status is ChunkStatus.FAILED:
                return None
            return entry.model_copy(
                update={
                    "status": ChunkStatus.FAILED,
                    "processed": 0,
                    "rejected": 0,
                    "failed": chunk.records,
                    "partitions": [],
                    "error": error,
                    "failed_stage": entry.stage_that_failed,
                }
            )

        return self._apply(batch_id, chunk, change)

    def record_failed_attempt(
        self, batch_id: str, chunk: ChunkRef, stage: StageName, error_type: str
    ) -> ChunkEntry:
        """Count one invocation of a stage that failed on the chunk (it may be retried)."""

        def change(entry: ChunkEntry) -> ChunkEntry | None:
            attempts = {**entry.failed_attempts, stage: entry.failed_attempts.get(stage, 0) + 1}
            return entry.model_copy(
                update={
                    "status": entry.status if entry.terminal else ChunkStatus.RUNNING,
                    "failed_attempts": attempts,
                    "last_attempt_error": error_type,
                    "last_attempt_stage": stage,
                }
            )

        return self._apply(batch_id, chunk, change)

    def reopen(self, batch_id: str, chunk: ChunkRef, run: int) -> ChunkEntry:
        """Take a chunk that is not stored up again for run ``run``: it is pending again.

        A failed chunk's records stop counting as failed (the summary moves with it); what
        each stage did before and how often it failed stay, as its history. A stored
        chunk, or one this run (or a later one) has taken up already, is left as it is.
        """

        def change(entry: ChunkEntry) -> ChunkEntry | None:
            taken = entry.run >= run and entry.status is not ChunkStatus.FAILED
            if entry.status is ChunkStatus.STORED or taken:
                return None
            return entry.model_copy(
                update={
                    "status": ChunkStatus.PENDING,
                    "processed": 0,
                    "rejected": 0,
                    "failed": 0,
                    "partitions": [],
                    "error": None,
                    "failed_stage": None,
                    "last_attempt_error": None,
                    "last_attempt_stage": None,
                    "run": run,
                }
            )

        return self._apply(batch_id, chunk, change)

    def mark_handled(self, batch_id: str, index: int, mark: HandledMark) -> bool:
        """Note on a chunk that someone dealt with its failure; False if it has no entry.

        Its version moves, so a stage writing the chunk meanwhile reads it again first.
        """
        return update_if(
            self._table,
            Key={"batch_id": batch_id, "item": chunk_item(index)},
            UpdateExpression="SET handled = :mark ADD #version :one",
            ConditionExpression="attribute_exists(#item)",
            ExpressionAttributeNames={"#version": "version", "#item": "item"},
            ExpressionAttributeValues={":mark": to_item(mark), ":one": 1},
        )

    # ----------------------------------------------------------------------- engine

    def _apply(
        self,
        batch_id: str,
        chunk: ChunkRef,
        change: Callable[[ChunkEntry], ChunkEntry | None],
    ) -> ChunkEntry:
        for attempt in range(self._attempts):
            current = self.get(batch_id, chunk.index)
            base = current or ChunkEntry.pending(chunk)
            changed = change(base)
            if changed is None:
                return base
            new = changed.model_copy(update={"version": base.version + 1, "updated_at": utc_now()})
            try:
                self._write(batch_id, current, new)
            except _Conflict:
                self._sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not crypto
                continue
            return new
        raise LedgerContentionError(
            f"chunk {chunk.index} of batch {batch_id} changed under {self._attempts} attempts"
        )

    def _write(self, batch_id: str, current: ChunkEntry | None, new: ChunkEntry) -> None:
        table = self._table.name
        put: dict[str, Any] = {
            "TableName": table,
            "Item": to_item(new, batch_id=batch_id, item=chunk_item(new.index)),
            "ExpressionAttributeNames": {"#version": "version", "#item": "item"},
        }
        if current is None:
            put["ConditionExpression"] = "attribute_not_exists(#item)"
            del put["ExpressionAttributeNames"]["#version"]
        else:
            put["ConditionExpression"] = "#version = :version"
            put["ExpressionAttributeValues"] = {":version": current.version}
            del put["ExpressionAttributeNames"]["#item"]
        update = _summary_update(table, batch_id, current, new)
        if update is None:
            try:
                self._client.put_item(**put)
            except ClientError as err:
                if condition_failed(err):
                    raise _Conflict from err
                raise
            return
        try:
            items: Any = [{"Put": put}, {"Update": update}]
            self._client.transact_write_items(TransactItems=items)
        except ClientError as err:
            if err.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise BatchNotFoundError(f"no batch has id {batch_id!r}") from err
            raise _Conflict from err


class _Conflict(Exception):
    """Another writer changed the chunk (or held it in a transaction) first."""


def _same_counts(a: StageProgress, b: StageProgress) -> bool:
    return (a.received, a.processed, a.rejected) == (b.received, b.processed, b.rejected)


def summary_delta(current: ChunkEntry | None, new: ChunkEntry | None) -> dict[str, int]:
    """How a chunk's move from ``current`` to ``new`` changes the batch counters (pure)."""
    before, after = contribution(current), contribution(new)
    return {
        name: after.get(name, 0) - before.get(name, 0)
        for name in sorted(set(before) | set(after))
        if after.get(name, 0) != before.get(name, 0)
    }


def _summary_update(
    table: str, batch_id: str, current: ChunkEntry | None, new: ChunkEntry
) -> dict[str, Any] | None:
    """The update that moves the batch summary by ``new``'s contribution minus ``current``'s."""
    delta = summary_delta(current, new)
    old_stages = current.stages if current is not None else {}
    touched = [s for s, p in new.stages.items() if old_stages.get(s) != p]
    old_attempts = current.failed_attempts if current is not None else {}
    failing = [s for s, n in new.failed_attempts.items() if old_attempts.get(s) != n]
    if not delta and not touched and not failing:
        return None
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds: list[str] = []
    sets: list[str] = []
    for number, stage in enumerate(failing):
        names[f"#e{number}"] = stage_counter(stage, "last_error")
        values[f":e{number}"] = new.last_attempt_error or "Unknown"
        sets.append(f"#e{number} = :e{number}")
    for number, (name, amount) in enumerate(delta.items()):
        names[f"#c{number}"] = name
        values[f":c{number}"] = amount
        adds.append(f"#c{number} :c{number}")
    for number, stage in enumerate(touched):
        progress = new.stages[stage]
        names[f"#s{number}"] = stage_counter(stage, "started_at")
        names[f"#f{number}"] = stage_counter(stage, "finished_at")
        values[f":s{number}"] = progress.started_at.isoformat()
        values[f":f{number}"] = progress.finished_at.isoformat()
        sets.append(f"#s{number} = if_not_exists(#s{number}, :s{number})")
        sets.append(f"#f{number} = :f{number}")
    expression = " ".join(
        part
        for part in (
            f"SET {', '.join(sets)}" if sets else "",
            f"ADD {', '.join(adds)}" if adds else "",
        )
        if part
    )
    names["#batch"] = "batch_id"
    return {
        "TableName": table,
        "Key": {"batch_id": batch_id, "item": _BATCH_ITEM},
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(#batch)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _entry(item: dict[str, Any]) -> ChunkEntry:
    data = from_item(item)
    data.pop("batch_id", None)
    data.pop("item", None)
    return ChunkEntry.model_validate(data)
