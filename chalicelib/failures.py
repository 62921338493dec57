"""One failure inbox: failed batches and chunks, rejects grouped by rule, and dead letters.

``GET /failures`` gathers what needs someone's attention from what the pipeline keeps:
the batch listing (newest first), each failed batch's failed chunks from its ledger,
each batch's rejects grouped by field and rule, and the dead-letter queues. Each item
has a state: ``open``; ``retried`` (a failed batch or chunk that a later run took up);
``replayed`` (rejects every one of which a replay took up); ``handled`` (marked with a
note through ``POST /failures/handle``, which also writes the audit trail). A page
covers ``limit`` batches of the listing; the dead letters come on the first page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.dead_letters import DeadLetterQueue, DiscardRequest, discard, peek
from shared.audit import AuditEntry
from shared.clock import utc_now
from shared.errors import BatchNotFoundError, UnprocessableError
from shared.ledger import ChunkStatus
from shared.models import BatchStatus, ErrorInfo, HandledMark

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_sqs import SQSClient

    from shared.context import PipelineContext
    from shared.models import BatchView

__all__ = [
    "FailureItem",
    "FailureKind",
    "FailurePage",
    "FailureQuery",
    "FailureState",
    "HandleReport",
    "HandleRequest",
    "handle",
    "inbox",
]

# Rejects read per batch to group them; a batch with more says its counts are partial.
MAX_REJECTS_READ = 2_000
_SAMPLE_LINES = 20
_FROZEN = ConfigDict(extra="forbid", frozen=True)
_OLDEST = datetime.min.replace(tzinfo=UTC)


class FailureKind(StrEnum):
    """What an inbox item is."""

    BATCH = "batch"
    CHUNK = "chunk"
    REJECTS = "rejects"
    DEAD_LETTER = "dead_letter"


class FailureState(StrEnum):
    """Where an inbox item is in being dealt with."""

    OPEN = "open"
    RETRIED = "retried"
    REPLAYED = "replayed"
    HANDLED = "handled"


class FailureQuery(BaseModel):
    """Query parameters of ``GET /failures``."""

    model_config = _FROZEN

    dataset: Annotated[str | None, Field(max_length=64)] = None
    batch: Annotated[str | None, Field(max_length=64)] = None
    rule: Annotated[str | None, Field(max_length=128)] = None
    state: FailureState | None = None
    kind: FailureKind | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 25
    next: Annotated[str | None, Field(max_length=2048)] = None


class FailureItem(BaseModel):
    """One thing in the inbox."""

    model_config = _FROZEN

    kind: FailureKind
    id: str = Field(description="batch id; batch/chunk; batch/field/rule; or the message id.")
    batch_id: str | None
    dataset: str | None
    state: FailureState
    at: datetime | None
    title: str
    field: str | None = None
    rule: str | None = None
    count: int = Field(description="Records concerned (a chunk's, a rule's rejects), or 1.")
    partial: bool = Field(default=False, description="The count covers the first rejects only.")
    chunk: int | None = None
    lines: list[int] = Field(default_factory=list, description="Source lines (a sample).")
    error: ErrorInfo | None = None
    handled: HandledMark | None = None
    message_id: str | None = None
    queue: str | None = None


class FailurePage(BaseModel):
    """One page of the inbox, newest first."""

    model_config = _FROZEN

    items: list[FailureItem]
    next: str | None = None


class HandleTarget(BaseModel):
    """An inbox item to mark handled."""

    model_config = _FROZEN

    kind: FailureKind
    id: Annotated[str, Field(min_length=1, max_length=256)]


class HandleRequest(BaseModel):
    """The body of ``POST /failures/handle``."""

    model_config = _FROZEN

    items: Annotated[list[HandleTarget], Field(min_length=1, max_length=200)]
    note: Annotated[str, Field(min_length=1, max_length=2_000)]


class HandleReport(BaseModel):
    """What ``POST /failures/handle`` did."""

    model_config = _FROZEN

    handled: int


def inbox(query: FailureQuery, ctx: PipelineContext, sqs: SQSClient) -> FailurePage:
    """Gather one page of the inbox (pure reads)."""
    if query.batch is not None:
        batches, token = [ctx.batches.get(query.batch)], None
    else:
        batches, token = ctx.batches.list(query.limit, query.next)
    items: list[FailureItem] = []
    for batch in batches:
        if query.dataset is not None and batch.dataset != query.dataset:
            continue
        items.extend(_of_batch(batch, ctx))
    if query.next is None and query.dataset is None:
        items.extend(_dead_letters(query, ctx, sqs))
    wanted = [i for i in items if _matches(i, query)]
    wanted.sort(key=lambda i: i.at or _OLDEST, reverse=True)
    return FailurePage(items=wanted, next=token)


def _matches(item: FailureItem, query: FailureQuery) -> bool:
    if query.state is not None and item.state is not query.state:
        return False
    if query.kind is not None and item.kind is not query.kind:
        return False
    if query.rule is not None:
        return query.rule in {item.rule, f"{item.field}:{item.rule}"}
    return True


def _of_batch(batch: BatchView, ctx: PipelineContext) -> list[FailureItem]:
    items: list[FailureItem] = []
    failed_before = any(r.status is BatchStatus.FAILED for r in batch.runs[:-1])
    if batch.status is BatchStatus.FAILED or failed_before:
        state = FailureState.OPEN if batch.status is BatchStatus.FAILED else FailureState.RETRIED
        if batch.status is BatchStatus.FAILED and batch.handled is not None:
            state = FailureState.HANDLED
        items.append(
            FailureItem(
                kind=FailureKind.BATCH,
                id=batch.batch_id,
                batch_id=batch.batch_id,
                dataset=batch.dataset,
                state=state,
                at=batch.finished_at or batch.received_at,
                title=f"batch {batch.status.value.lower()}"
                + (f": {batch.error.type}" if batch.error else ""),
                count=batch.counts.failed or batch.counts.received,
                error=batch.error,
                handled=batch.handled,
            )
        )
        items.extend(_chunks(batch, ctx))
    if batch.counts.rejected:
        items.extend(_reject_groups(batch, ctx))
    return items


def _chunks(batch: BatchView, ctx: PipelineContext) -> list[FailureItem]:
    """The batch's failed chunks, and the ones a retry took up since (``retried``)."""
    items: list[FailureItem] = []
    token: str | None = None
    while True:
        entries, token = ctx.ledger.page(batch.batch_id, 200, token)
        for entry in entries:
            retried = entry.run > 0 and entry.status is not ChunkStatus.FAILED
            if entry.status is not ChunkStatus.FAILED and not retried:
                continue
            state = FailureState.RETRIED if retried else FailureState.OPEN
            if not retried and entry.handled is not None:
                state = FailureState.HANDLED
            items.append(
                FailureItem(
                    kind=FailureKind.CHUNK,
                    id=f"{batch.batch_id}/{entry.index}",
                    batch_id=batch.batch_id,
                    dataset=batch.dataset,
                    state=state,
                    at=entry.updated_at,
                    title=f"chunk {entry.index} "
                    + (f"failed in {entry.failed_stage}" if entry.failed_stage else entry.status),
                    count=entry.records,
                    chunk=entry.index,
                    lines=[entry.first_line, entry.last_line],
                    error=entry.error,
                    handled=entry.handled,
                )
            )
        if token is None:
            return items


def _reject_groups(batch: BatchView, ctx: PipelineContext) -> list[FailureItem]:
    """The batch's rejects grouped by the field and rule of their first reason."""
    rejects, partial = ctx.rejects.all_of(batch.batch_id, MAX_REJECTS_READ)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for reject in rejects:
        reasons = reject.get("reasons") or [{"field": "record", "rule": "unknown"}]
        for reason in {(r["field"], r["rule"]): r for r in reasons}.values():
            groups.setdefault((reason["field"], reason["rule"]), []).append(reject)
    items: list[FailureItem] = []
    for (field, rule), members in sorted(groups.items()):
        replayed = all(m.get("replayed_to") for m in members)
        handled = all(m.get("replayed_to") or m.get("handled") for m in members)
        state = (
            FailureState.REPLAYED
            if replayed
            else FailureState.HANDLED
            if handled
            else FailureState.OPEN
        )
        message = next(r["message"] for r in members[0]["reasons"] if r["field"] == field)
        mark = next((m["handled"] for m in members if m.get("handled")), None)
        items.append(
            FailureItem(
                kind=FailureKind.REJECTS,
                id=f"{batch.batch_id}/{field}/{rule}",
                batch_id=batch.batch_id,
                dataset=batch.dataset,
                state=state,
                at=batch.finished_at or batch.received_at,
                title=f"{len(members)} rejected: {field} {rule} ({message})",
                field=field,
                rule=rule,
                count=len(members),
                partial=partial,
                lines=[int(m["line"]) for m in members[:_SAMPLE_LINES]],
                handled=mark,
            )
        )
    return items


def _dead_letters(query: FailureQuery, ctx: PipelineContext, sqs: SQSClient) -> list[FailureItem]:
    """The dead letters; a failed batch's is ``retried`` once a later run got the batch through."""
    listed = peek(sqs, ctx.settings)
    done: dict[str, bool] = {}
    for letter in listed.messages:
        if letter.batch_id is not None and letter.batch_id not in done:
            done[letter.batch_id] = _got_through(letter.batch_id, ctx)
    return [
        FailureItem(
            kind=FailureKind.DEAD_LETTER,
            id=letter.message_id,
            batch_id=letter.batch_id,
            dataset=None,
            state=FailureState.RETRIED
            if letter.queue is DeadLetterQueue.PIPELINE and done.get(letter.batch_id or "")
            else FailureState.OPEN,
            at=letter.sent_at,
            title=f"dead letter ({letter.queue.value}): {letter.reason}",
            count=1,
            message_id=letter.message_id,
            queue=letter.queue.value,
        )
        for letter in listed.messages
        if query.batch is None or letter.batch_id == query.batch
    ]


def _got_through(batch_id: str, ctx: PipelineContext) -> bool:
    try:
        status = ctx.batches.get(batch_id).status
    except BatchNotFoundError:
        return False
    return status in {BatchStatus.SUCCEEDED, BatchStatus.COMPLETED_WITH_REJECTS}


def handle(
    request: HandleRequest, actor: str, ctx: PipelineContext, sqs: SQSClient
) -> HandleReport:
    """Mark inbox items handled with a note (a dead letter handled is discarded), and audit it.

    Raises:
        UnprocessableError: an item does not exist (``unknown_item``); nothing is marked.
    """
    now = utc_now()
    mark = HandledMark(by=actor, at=now, note=request.note)
    letters = [t.id for t in request.items if t.kind is FailureKind.DEAD_LETTER]
    others = [t for t in request.items if t.kind is not FailureKind.DEAD_LETTER]
    plans = [(target, _plan(target, ctx)) for target in others]
    unknown = [t for t, plan in plans if plan is None]
    if unknown:
        raise UnprocessableError(
            f"{len(unknown)} of the items are not in the inbox; nothing was marked",
            [{"kind": t.kind.value, "id": t.id, "problem": "unknown_item"} for t in unknown],
            code="unknown_item",
        )
    handled = 0
    for target, (batch_id, mark_it) in [(t, p) for t, p in plans if p is not None]:
        mark_it(mark)
        handled += 1
        ctx.audit.record(
            AuditEntry(
                action="handle",
                actor=actor,
                at=now,
                target=f"{target.kind.value}:{target.id}",
                batch_id=batch_id,
                note=request.note,
            )
        )
    if letters:
        report = discard(DiscardRequest(message_ids=letters, note=request.note), actor, ctx, sqs)
        handled += report.totals.deleted
    return HandleReport(handled=handled)


def _plan(
    target: HandleTarget, ctx: PipelineContext
) -> tuple[str, Callable[[HandledMark], object]] | None:
    """The batch an item belongs to and how to mark it, or None if there is no such item."""
    parts = target.id.split("/")
    if target.kind is FailureKind.BATCH and len(parts) == 1:
        if not ctx.batches.exists(parts[0]):
            return None
        return parts[0], lambda m: ctx.batches.mark_handled(parts[0], m)
    if target.kind is FailureKind.CHUNK and len(parts) == 2 and parts[1].isdigit():
        if ctx.ledger.get(parts[0], int(parts[1])) is None:
            return None
        return parts[0], lambda m: ctx.ledger.mark_handled(parts[0], int(parts[1]), m)
    if target.kind is FailureKind.REJECTS and len(parts) == 3:
        batch_id, field, rule = parts
        rejects, _ = ctx.rejects.all_of(batch_id, MAX_REJECTS_READ)
        lines = [
            int(r["line"])
            for r in rejects
            if any((x["field"], x["rule"]) == (field, rule) for x in r.get("reasons", []))
        ]
        if not lines:
            return None

        def mark_all(m: HandledMark) -> None:
            for line in lines:
                ctx.rejects.mark_handled(batch_id, line, m)

        return batch_id, mark_all
    return None
