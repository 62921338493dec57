"""Fix and replay rejected records: edited rejects become a child batch, linked both ways.

``POST /batches/{id}/replay`` names rejects of the batch by source line, each with
corrected values. Every edited record is validated by its dataset first; if any is
still invalid the request is refused with each one's reasons and nothing is stored
(unless ``partial`` asks to replay the valid ones). The valid ones go in as a new
batch through the same ingestion as a ``POST /batches`` (a JSON body of the edited
values), with ``replay_of`` naming the parent and the parent's line of each record,
so their lineage carries it through every stage. The parent's rejects keep their
original values and reasons and are marked ``replayed_to`` the child; the parent
lists the child. The child's id is fixed by the parent and the Idempotency-Key (or,
without one, the edits themselves), so replaying the same edits twice makes one child.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.ingest import IngestRequest, batch_id_for, ingest
from shared.audit import AuditEntry
from shared.clock import utc_now
from shared.datasets import Rejection, get_dataset
from shared.errors import ConflictError, UnprocessableError
from shared.models import ReplayChild, ReplayParent
from shared.observability import logger
from shared.records import ReplayMark

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.context import PipelineContext
    from shared.models import ExecutionInput

__all__ = ["ReplayAccepted", "ReplayRequest", "ReplayedRecord", "StillInvalid", "replay"]

MAX_REPLAYED = 1_000


class ReplayedRecord(BaseModel):
    """One reject to replay: its source line in the batch and its corrected values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line: Annotated[int, Field(ge=1)]
    values: dict[str, Any]


class ReplayRequest(BaseModel):
    """The body of ``POST /batches/{id}/replay``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    records: Annotated[list[ReplayedRecord], Field(min_length=1, max_length=MAX_REPLAYED)]
    partial: bool = Field(
        default=False, description="Replay the valid records even if some are still invalid."
    )


class StillInvalid(BaseModel):
    """An edited record that its dataset still rejects, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line: int
    reasons: list[Rejection]


class ReplayAccepted(BaseModel):
    """The answer to a replay: the child batch and what went into it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str
    parent_batch_id: str
    records: int
    lines: list[int] = Field(description="The parent's lines the child replays, in its order.")
    still_invalid: list[StillInvalid] = Field(default_factory=list)
    status_url: str
    duplicate: bool = False


def replay(
    parent_id: str,
    request: ReplayRequest,
    idempotency_key: str | None,
    actor: str,
    ctx: PipelineContext,
    enqueue: Callable[[ExecutionInput], None],
) -> ReplayAccepted:
    """Validate the edited rejects, ingest the valid ones as a child batch and link the two.

    Raises:
        BatchNotFoundError: no batch has this id.
        MalformedRequestError: a line is named twice.
        UnprocessableError: a line is not a reject of the batch (``not_a_reject``), or an
            edited record is still invalid and ``partial`` is off (``still_invalid``).
        ConflictError: a reject was replayed already by another replay (``already_replayed``).
    """
    parent = ctx.batches.get(parent_id)
    dataset = get_dataset(parent.dataset)
    lines = [r.line for r in request.records]
    if len(set(lines)) != len(lines):
        raise UnprocessableError("a line is named more than once", code="duplicate_line")
    rejects = {line: ctx.rejects.get(parent_id, line) for line in sorted(set(lines))}
    missing = [line for line, reject in rejects.items() if reject is None]
    if missing:
        raise UnprocessableError(
            f"lines {missing} of batch {parent_id!r} are not rejected records",
            [{"line": line, "problem": "not_a_reject"} for line in missing],
            code="not_a_reject",
        )
    ordered = sorted(request.records, key=lambda r: r.line)
    child_key = _child_key(parent_id, idempotency_key, ordered)
    child_id = batch_id_for(child_key)
    taken = {
        line: reject["replayed_to"]
        for line, reject in rejects.items()
        if reject is not None and reject.get("replayed_to")
    }
    others = sorted(line for line, mark in taken.items() if mark["batch_id"] != child_id)
    if others:
        raise ConflictError(
            f"lines {others} of batch {parent_id!r} were replayed already",
            [{"line": line, "replayed_to": taken[line]} for line in others],
            code="already_replayed",
        )
    invalid = [
        StillInvalid(line=r.line, reasons=result)
        for r in ordered
        if isinstance(result := dataset.validate(r.values), list)
    ]
    if invalid and (not request.partial or len(invalid) == len(ordered)):
        raise UnprocessableError(
            f"{len(invalid)} of {len(ordered)} edited records are still invalid; nothing stored",
            [i.model_dump(mode="json") for i in invalid],
            code="still_invalid",
        )
    bad = {i.line for i in invalid}
    chosen = [r for r in ordered if r.line not in bad]
    body = json.dumps({"dataset": dataset.name, "records": [r.values for r in chosen]}).encode()
    accepted = ingest(
        IngestRequest(
            body=body,
            content_type="application/json",
            dataset=dataset.name,
            idempotency_key=child_key,
            replay_of=ReplayParent(batch_id=parent_id, lines=[r.line for r in chosen]),
        ),
        ctx,
        enqueue,
    )
    now = utc_now()
    for number, record in enumerate(chosen, start=1):
        mark = ReplayMark(batch_id=accepted.batch_id, line=number, at=now, by=actor)
        ctx.rejects.mark_replayed(parent_id, record.line, mark)
    ctx.batches.add_replay(
        parent_id,
        ReplayChild(
            batch_id=accepted.batch_id, records=len(chosen), requested_by=actor, requested_at=now
        ),
    )
    if not accepted.duplicate:
        ctx.audit.record(
            AuditEntry(
                action="replay",
                actor=actor,
                at=now,
                target=parent_id,
                batch_id=parent_id,
                details={"child": accepted.batch_id, "lines": [r.line for r in chosen]},
            )
        )
    logger.info("rejects replayed", extra={"child": accepted.batch_id, "records": len(chosen)})
    return ReplayAccepted(
        batch_id=accepted.batch_id,
        parent_batch_id=parent_id,
        records=len(chosen),
        lines=[r.line for r in chosen],
        still_invalid=invalid,
        status_url=accepted.status_url,
        duplicate=accepted.duplicate,
    )


def _child_key(parent_id: str, key: str | None, records: list[ReplayedRecord]) -> str:
    """The Idempotency-Key the child is ingested with: the parent's and the request's."""
    what = key if key is not None else json.dumps([r.model_dump() for r in records], sort_keys=True)
    return "replay:" + hashlib.sha256(f"{parent_id}\n{what}".encode()).hexdigest()[:48]
