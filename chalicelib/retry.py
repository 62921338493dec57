"""Retrying a batch: a new run over its failed chunks, or from the start.

``POST /batches/{id}/retry`` asks for it; the run is claimed on the batch item (so two
concurrent requests make one run) and queued for the starter, which starts a Standard
execution named ``<batch_id>-r<n>``. What the run does depends on where the batch
failed:

* **failed chunks** (kind ``retry``): split takes the failed chunks (every one, or the
  chosen) up again in the ledger and lists only them in the run's manifest; chunk
  objects that expired are cut again from the raw object. Chunks that were stored stay
  stored, and the totals, kept chunk by chunk in the ledger, never count a record twice.
* **a batch-level state** (split, finalize; kind ``rerun``): the run starts from the
  beginning; stored chunks are not written again (every stage is idempotent).
* **an execution that stopped** without marking the batch (timed out, aborted, or
  failed outside the ASL's Catch, so the batch still says ``RUNNING``): on AWS the
  starter redrives it with ``RedriveExecution`` (same ARN, it resumes where it
  stopped); the local runtime's moto has no redrive, so there it is re-run from the
  start like a batch-level failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.audit import AuditEntry
from shared.batches import MAX_RUNS, execution_name
from shared.clock import utc_now
from shared.errors import ConflictError, UnprocessableError
from shared.ledger import ChunkStatus
from shared.models import BatchStatus, ExecutionInput, RunInfo, RunKind
from shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_stepfunctions import SFNClient

    from shared.context import PipelineContext
    from shared.models import BatchView

__all__ = ["RetryAccepted", "RetryRequest", "request_retry"]

# At most this many chunks named in one request (the run lists them on the batch item).
MAX_CHOSEN_CHUNKS = 1_000
_STOPPED = {"FAILED", "TIMED_OUT", "ABORTED"}


class RetryRequest(BaseModel):
    """The body of ``POST /batches/{id}/retry``: the chunks to retry (default: every failed one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chunks: (
        Annotated[
            list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=MAX_CHOSEN_CHUNKS)
        ]
        | None
    ) = None


class RetryAccepted(BaseModel):
    """The answer to a retry: the run it made and the execution that will run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str
    run: int
    kind: RunKind
    execution_name: str
    chunks: list[int] | None
    status_url: str


def request_retry(
    batch_id: str,
    chunks: list[int] | None,
    actor: str,
    ctx: PipelineContext,
    enqueue: Callable[[ExecutionInput], None],
    sfn: SFNClient | None = None,
) -> RetryAccepted:
    """Claim a new run of the batch and queue it for the starter.

    ``sfn`` is asked whether a batch still marked running has an execution that stopped.

    Raises:
        BatchNotFoundError: no batch has this id.
        ConflictError: the batch is running (``batch_running``), has nothing to retry
            (``nothing_to_retry``), cannot be retried (``not_retryable``), or another
            retry claimed the run first (``retry_in_progress``).
        UnprocessableError: a chosen chunk does not exist (``unknown_chunk``) or is not
            failed (``chunk_not_failed``).
    """
    batch = ctx.batches.get(batch_id)
    kind, redrive = _kind_of(batch, chunks, ctx, sfn)
    number = len(batch.runs)
    if number > MAX_RUNS:
        raise ConflictError(
            f"batch {batch_id!r} has been run {number} times; no more retries",
            code="not_retryable",
        )
    previous = batch.runs[-1].execution_arn if batch.runs else None
    state_machine_arn = ctx.settings.state_machine_arn
    name = execution_name(batch_id, number)
    arn = previous if redrive and previous else _arn(state_machine_arn, name)
    now = utc_now()
    run = RunInfo(
        run=number,
        kind=kind,
        execution_arn=arn,
        chunks=sorted(set(chunks)) if chunks else None,
        requested_by=actor,
        requested_at=now,
        redrive=redrive,
    )
    if not ctx.batches.claim_run(batch, run, now):
        raise ConflictError(
            f"batch {batch_id!r} changed while the retry was asked for; read it again",
            code="retry_in_progress",
        )
    enqueue(ExecutionInput(batch_id=batch_id, run=number))
    ctx.audit.record(
        AuditEntry(
            action="retry",
            actor=actor,
            at=now,
            target=batch_id,
            batch_id=batch_id,
            details={"run": number, "kind": kind.value, "chunks": run.chunks},
        )
    )
    logger.info("retry queued", extra={"run": number, "kind": kind.value, "chunks": run.chunks})
    return RetryAccepted(
        batch_id=batch_id,
        run=number,
        kind=kind,
        execution_name=name,
        chunks=run.chunks,
        status_url=f"/batches/{batch_id}",
    )


def _arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def _kind_of(
    batch: BatchView, chunks: list[int] | None, ctx: PipelineContext, sfn: SFNClient | None
) -> tuple[RunKind, bool]:
    """What a retry of the batch is: chunks again, or from the start (and whether to redrive)."""
    if batch.status in {BatchStatus.RECEIVED, BatchStatus.RUNNING}:
        if not _stopped(batch, sfn):
            raise ConflictError(
                f"batch {batch.batch_id!r} is {batch.status.value.lower()}; "
                "retry it once it has ended",
                code="batch_running",
            )
        if chunks is not None:
            raise UnprocessableError(
                "the batch's execution stopped before its chunks were accounted; "
                "it can only be retried whole",
                code="chunk_not_failed",
            )
        return RunKind.RERUN, not ctx.settings.local_runtime
    if batch.status is not BatchStatus.FAILED:
        raise ConflictError(
            f"batch {batch.batch_id!r} {batch.status.value}: nothing failed, nothing to retry",
            code="nothing_to_retry",
        )
    if batch.execution_arn is None:
        why = batch.error.message if batch.error else "no execution"
        raise ConflictError(
            f"batch {batch.batch_id!r} failed before it started ({why}); "
            "send its data again instead",
            code="not_retryable",
        )
    total = batch.chunks.total
    if chunks is not None:
        _check_chosen(batch, chunks, ctx)
        return RunKind.RETRY, False
    if total is None or (batch.chunks.failed == 0 and batch.counts.failed == 0):
        return RunKind.RERUN, False
    return RunKind.RETRY, False


def _check_chosen(batch: BatchView, chunks: list[int], ctx: PipelineContext) -> None:
    total = batch.chunks.total or 0
    unknown = sorted(i for i in set(chunks) if i >= total)
    if unknown:
        raise UnprocessableError(
            f"batch {batch.batch_id!r} has {total} chunks; it has no chunk {unknown}",
            [{"chunk": i, "problem": "unknown_chunk"} for i in unknown],
            code="unknown_chunk",
        )
    stored = sorted(
        i
        for i in set(chunks)
        if (entry := ctx.ledger.get(batch.batch_id, i)) is not None
        and entry.status is ChunkStatus.STORED
    )
    if stored:
        raise UnprocessableError(
            f"chunks {stored} of batch {batch.batch_id!r} are stored; "
            "only failed chunks are retried",
            [{"chunk": i, "problem": "chunk_not_failed"} for i in stored],
            code="chunk_not_failed",
        )


def _stopped(batch: BatchView, sfn: SFNClient | None) -> bool:
    """Whether a batch marked running has an execution that is no longer running."""
    if sfn is None or batch.execution_arn is None or batch.status is not BatchStatus.RUNNING:
        return False
    try:
        status = sfn.describe_execution(executionArn=batch.execution_arn)["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        return False
    return status in _STOPPED
