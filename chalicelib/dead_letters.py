"""The dead-letter queues as an operator sees them: list their messages, redrive or discard them.

Two queues hold what the pipeline could not do. The **ingest** DLQ takes the ingest
queue's messages the starter failed on ``maxReceiveCount`` times (``{"batch_id", "run"}``
from the API, or an upload's S3 ``Object Created`` event); the **pipeline** DLQ takes the
``BatchOutcome`` of every batch that failed (the state machine's ``SendToDeadLetterQueue``).

* **Listing peeks.** Messages are received with a short visibility timeout
  (``HOLD_SECONDS``), page after page until the queue's visible count is reached (or the
  limit), de-duplicated by message id, and made visible again at once
  (``ChangeMessageVisibility`` 0); if that fails, they come back when the hold ends.
  Every receive counts: a message's ``receive_count`` includes these listings.
* **Redriving an ingest message** puts it back on the ingest queue. On AWS, redriving the
  whole queue is one ``StartMessageMoveTask`` (asynchronous: the answer says ``moving``
  and names the task). A chosen subset, and everything in the local runtime (moto has no
  ``StartMessageMoveTask``), goes message by message: receive, send to the ingest queue,
  then delete; a process that dies between the send and the delete leaves a duplicate,
  never a loss, and the starter makes a duplicate start a no-op. "On AWS" is
  ``Settings.local_runtime`` being false: the local runtime sets ``SLUICE_LOCAL_RUNTIME``
  (the retry reads it to choose ``RedriveExecution``), a cleaner signal than the
  endpoint or than calling the API and catching its "not implemented".
* **Redriving a pipeline message** retries its batch (``chalicelib.retry.request_retry``):
  the message has no source queue to go back to. It is deleted once the retry is
  accepted; a batch that cannot be retried (running, nothing failed, unknown) keeps its
  message, and the result says why. Further messages of a batch retried by the same
  request are deleted too: that run retries them all.
* **Discarding** deletes the chosen messages, all or none: an id in neither queue refuses
  the request (``unknown_message``) before anything is deleted.

Every message redriven or discarded gets an entry in the audit trail, with the name of
the key that asked.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.retry import request_retry
from chalicelib.starter import parse_message
from shared.audit import AuditEntry
from shared.clock import utc_now
from shared.errors import (
    BatchNotFoundError,
    ConflictError,
    InvalidStatePayloadError,
    UnprocessableError,
)
from shared.models import BATCH_ID_PATTERN, BatchOutcome, ExecutionInput
from shared.observability import logger
from shared.uploads import parse_upload_key

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef
    from mypy_boto3_sqs.type_defs import MessageTypeDef as SqsMessage

    from chalicelib.retry import RetryAccepted
    from shared.context import PipelineContext
    from shared.settings import Settings

__all__ = [
    "HOLD_SECONDS",
    "MAX_BODY_CHARS",
    "MAX_MESSAGES",
    "DeadLetter",
    "DeadLetterList",
    "DeadLetterQuery",
    "DeadLetterQueue",
    "DiscardReport",
    "DiscardRequest",
    "MessageOutcome",
    "MessageResult",
    "MoveTask",
    "OutcomeTotals",
    "QueueDepth",
    "RedriveReport",
    "RedriveRequest",
    "discard",
    "peek",
    "redrive",
]

# At most this many messages per queue are listed, or chosen in one request.
MAX_MESSAGES = 100
# A request that names messages looks through at most this many of a queue's for them.
MAX_SCAN = 300
# How much of a body is shown (and kept in the audit trail), in characters.
MAX_BODY_CHARS = 4_096
# How long a received message stays hidden if making it visible again fails.
HOLD_SECONDS = 30
_PER_CALL = 10  # SQS receives, and changes visibility of, at most 10 messages per call
_FROZEN = ConfigDict(extra="forbid", frozen=True)

MessageId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")]
MessageIds = Annotated[list[MessageId], Field(min_length=1, max_length=MAX_MESSAGES)]


class DeadLetterQueue(StrEnum):
    """The two dead-letter queues."""

    INGEST = "ingest"
    PIPELINE = "pipeline"


class DeadLetter(BaseModel):
    """One message of a dead-letter queue, with the batch it names and why it is there."""

    model_config = _FROZEN

    queue: DeadLetterQueue
    message_id: str
    batch_id: str | None = Field(description="The batch it names (None: none can be read).")
    reason: str = Field(description="Why it failed: the batch's error, or the starter's tries.")
    sent_at: datetime | None = Field(
        description="When it was first sent (to the ingest queue, for an ingest message)."
    )
    receive_count: int = Field(description="Times it was received, listings included.")
    body: str = Field(description=f"The body as text, its first {MAX_BODY_CHARS} characters.")
    body_truncated: bool


class QueueDepth(BaseModel):
    """How many messages a queue held when it was listed, and how many were listed."""

    model_config = _FROZEN

    queue: DeadLetterQueue
    approximate_messages: int = Field(description="SQS's count of its visible messages.")
    listed: int


class DeadLetterList(BaseModel):
    """The answer to ``GET /dead-letters``: the messages, newest first, and each queue's depth."""

    model_config = _FROZEN

    messages: list[DeadLetter]
    queues: list[QueueDepth]


class DeadLetterQuery(BaseModel):
    """Query parameters of ``GET /dead-letters``."""

    model_config = _FROZEN

    queue: DeadLetterQueue | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_MESSAGES)] = MAX_MESSAGES


class RedriveRequest(BaseModel):
    """The body of ``POST /dead-letters/redrive``: which messages (null: all) of which queue."""

    model_config = _FROZEN

    queue: DeadLetterQueue | None = Field(default=None, description="null: both queues.")
    message_ids: MessageIds | None = Field(
        default=None, description="null: every message of the queue (or of both)."
    )
    note: Annotated[str | None, Field(max_length=2_000)] = None


class DiscardRequest(BaseModel):
    """The body of ``DELETE /dead-letters``: the messages to delete, and why."""

    model_config = _FROZEN

    message_ids: MessageIds
    note: Annotated[str | None, Field(max_length=2_000)] = None


class MessageOutcome(StrEnum):
    """What an action did to one message."""

    MOVED = "moved"  # back on the ingest queue
    MOVING = "moving"  # a message move task is taking it back (AWS, the whole queue)
    RETRIED = "retried"  # its batch is retried; the message is deleted
    DELETED = "deleted"  # discarded
    SKIPPED = "skipped"  # left where it was; ``reason`` says why


class MessageResult(BaseModel):
    """The outcome for one message."""

    model_config = _FROZEN

    message_id: str
    queue: DeadLetterQueue | None = Field(description="None: it is in neither queue.")
    batch_id: str | None = None
    outcome: MessageOutcome
    reason: str | None = None
    run: int | None = Field(default=None, description="The retry's run, when retried.")


class OutcomeTotals(BaseModel):
    """How many messages had each outcome."""

    model_config = _FROZEN

    moved: int = 0
    moving: int = 0
    retried: int = 0
    deleted: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, results: Iterable[MessageResult]) -> OutcomeTotals:
        """Count the results by outcome."""
        counts = dict.fromkeys((outcome.value for outcome in MessageOutcome), 0)
        for result in results:
            counts[result.outcome.value] += 1
        return cls(**counts)


class MoveTask(BaseModel):
    """The SQS message move task taking the whole ingest DLQ back (AWS only)."""

    model_config = _FROZEN

    task_handle: str
    source_arn: str
    destination_arn: str


class RedriveReport(BaseModel):
    """The answer to a redrive: one result per message, totals, and the move task if any."""

    model_config = _FROZEN

    results: list[MessageResult]
    totals: OutcomeTotals
    move_task: MoveTask | None = None


class DiscardReport(BaseModel):
    """The answer to a discard: one result per message, and totals."""

    model_config = _FROZEN

    results: list[MessageResult]
    totals: OutcomeTotals


@dataclass(frozen=True)
class _Held:
    """A received message: what is shown of it, its whole body, the handle to act on it."""

    letter: DeadLetter
    body: str
    receipt_handle: str


@dataclass(frozen=True)
class _IngestPolicy:
    """The ingest queue's ARN and its redrive policy (DLQ ARN, maxReceiveCount)."""

    queue_arn: str
    dead_letter_arn: str | None
    max_receive_count: int | None


class _Queues:
    """The two dead-letter queues over one SQS client: hold, release and delete messages."""

    def __init__(self, sqs: SQSClient, settings: Settings) -> None:
        self.sqs = sqs
        self.settings = settings

    def url(self, queue: DeadLetterQueue) -> str:
        if queue is DeadLetterQueue.INGEST:
            return self.settings.ingest_dlq_url
        return self.settings.pipeline_dlq_url

    @functools.cached_property
    def ingest_policy(self) -> _IngestPolicy:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.settings.ingest_queue_url, AttributeNames=["QueueArn", "RedrivePolicy"]
        )["Attributes"]
        policy = json.loads(attributes.get("RedrivePolicy") or "{}")
        count = policy.get("maxReceiveCount")
        return _IngestPolicy(
            queue_arn=attributes["QueueArn"],
            dead_letter_arn=policy.get("deadLetterTargetArn"),
            max_receive_count=int(count) if count is not None else None,
        )

    def hold(
        self, queue: DeadLetterQueue, limit: int, wanted: Collection[str] | None = None
    ) -> tuple[dict[str, _Held], int]:
        """Receive up to ``limit`` messages (stopping once ``wanted`` are all found).

        Returns them by message id (the latest receipt of each) and the queue's visible
        count before the first receive.
        """
        url = self.url(queue)
        visible = int(
            self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"].get("ApproximateNumberOfMessages", "0")
        )
        looking_for = set(wanted) if wanted is not None else None
        held: dict[str, _Held] = {}
        for _ in range(2 * (limit // _PER_CALL) + 2):
            if len(held) >= limit or (looking_for is not None and looking_for <= held.keys()):
                break
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(_PER_CALL, limit - len(held)),
                VisibilityTimeout=HOLD_SECONDS,
                # Long-poll (it answers as soon as there is a message) while the count
                # says there are more; once it is reached, one short poll checks.
                WaitTimeSeconds=1 if len(held) < visible else 0,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                letter = self._letter(queue, message)
                held[letter.message_id] = _Held(
                    letter=letter,
                    body=message.get("Body", ""),
                    receipt_handle=message["ReceiptHandle"],
                )
        return held, visible

    def release(self, queue: DeadLetterQueue, held: Iterable[_Held]) -> None:
        """Make held messages visible again."""
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": h.receipt_handle, "VisibilityTimeout": 0}
            for i, h in enumerate(held)
        ]
        for start in range(0, len(entries), _PER_CALL):
            try:
                answer = self.sqs.change_message_visibility_batch(
                    QueueUrl=self.url(queue), Entries=entries[start : start + _PER_CALL]
                )
            except ClientError as err:
                # moto refuses any visibility change of a message sent over 12 hours ago
                # (AWS counts the 12 hours from the receive); those come back after the hold.
                if err.response.get("Error", {}).get("Code") != "InvalidParameterValue":
                    raise
                logger.warning("dead letters stay hidden until their hold ends", exc_info=err)
                continue
            if answer.get("Failed"):
                logger.warning(
                    "dead letters stay hidden until their hold ends",
                    extra={"failed": [f["Code"] for f in answer["Failed"]]},
                )

    def delete(self, queue: DeadLetterQueue, held: _Held) -> None:
        """Delete a held message."""
        self.sqs.delete_message(QueueUrl=self.url(queue), ReceiptHandle=held.receipt_handle)

    def _letter(self, queue: DeadLetterQueue, message: SqsMessage) -> DeadLetter:
        body = message.get("Body", "")
        attributes = message.get("Attributes", {})
        sent = attributes.get("SentTimestamp")
        if queue is DeadLetterQueue.PIPELINE:
            batch_id, reason = _pipeline_failure(body)
        else:
            batch_id, problem = _ingest_batch(body)
            reason = self._ingest_reason(problem)
        return DeadLetter(
            queue=queue,
            message_id=message["MessageId"],
            batch_id=batch_id,
            reason=reason,
            sent_at=datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent else None,
            receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
            body=body[:MAX_BODY_CHARS],
            body_truncated=len(body) > MAX_BODY_CHARS,
        )

    def _ingest_reason(self, problem: str | None) -> str:
        count = self.ingest_policy.max_receive_count
        tries = f"{count} times" if count is not None else "until it was dead-lettered"
        reason = f"the starter failed {tries} to start it"
        return f"{reason}: {problem}" if problem else reason


def _pipeline_failure(body: str) -> tuple[str | None, str]:
    """The batch a pipeline DLQ message names and its error."""
    try:
        outcome = BatchOutcome.model_validate_json(body)
    except ValidationError:
        return _loose_batch_id(body), "the batch failed (the message is not a batch outcome)"
    if outcome.error is None:
        return outcome.batch_id, f"the batch ended {outcome.status.value}"
    return outcome.batch_id, f"{outcome.error.type}: {outcome.error.message}"


def _loose_batch_id(body: str) -> str | None:
    """The ``batch_id`` of a JSON object that is not quite a model (None if it has none)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    candidate = data.get("batch_id") if isinstance(data, dict) else None
    if not isinstance(candidate, str) or not re.match(BATCH_ID_PATTERN, candidate):
        return None
    return candidate


def _ingest_batch(body: str) -> tuple[str | None, str | None]:
    """The batch an ingest DLQ message names, and why the starter cannot read it (if not)."""
    try:
        message = parse_message(body)
    except InvalidStatePayloadError as err:
        return None, str(err)
    if isinstance(message, ExecutionInput):
        return message.batch_id, None
    upload = parse_upload_key(unquote_plus(message.detail.object.key))
    if upload is None:
        return None, "the object is not under an upload's key"
    return upload.batch_id, None


def _chosen(held: dict[str, _Held], ids: list[str] | None) -> list[_Held]:
    if ids is None:
        return list(held.values())
    return [held[i] for i in dict.fromkeys(ids) if i in held]


def _audit(
    ctx: PipelineContext,
    action: str,
    actor: str,
    note: str | None,
    result: MessageResult,
    held: _Held,
) -> None:
    details: dict[str, Any] = {
        "queue": held.letter.queue.value,
        "reason": held.letter.reason,
        "body": held.letter.body,
        "outcome": result.outcome.value,
    }
    if result.run is not None:
        details["run"] = result.run
    ctx.audit.record(
        AuditEntry(
            action=action,
            actor=actor,
            at=utc_now(),
            target=held.letter.message_id,
            batch_id=held.letter.batch_id,
            note=note,
            details=details,
        )
    )


def _result(held: _Held, outcome: MessageOutcome, **extra: Any) -> MessageResult:
    return MessageResult(
        message_id=held.letter.message_id,
        queue=held.letter.queue,
        batch_id=held.letter.batch_id,
        outcome=outcome,
        **extra,
    )


def peek(
    sqs: SQSClient,
    settings: Settings,
    queue: DeadLetterQueue | None = None,
    limit: int = MAX_MESSAGES,
) -> DeadLetterList:
    """List the messages of the dead-letter queues (or one) without taking them out."""
    queues = _Queues(sqs, settings)
    letters: list[DeadLetter] = []
    depths: list[QueueDepth] = []
    for name in [queue] if queue else list(DeadLetterQueue):
        held, visible = queues.hold(name, limit)
        queues.release(name, held.values())
        letters.extend(h.letter for h in held.values())
        depths.append(QueueDepth(queue=name, approximate_messages=visible, listed=len(held)))
    oldest = datetime.min.replace(tzinfo=UTC)
    letters.sort(key=lambda letter: letter.sent_at or oldest, reverse=True)
    return DeadLetterList(messages=letters, queues=depths)


def redrive(
    request: RedriveRequest,
    actor: str,
    ctx: PipelineContext,
    sqs: SQSClient,
    enqueue: Callable[[ExecutionInput], None],
) -> RedriveReport:
    """Move ingest messages back to the ingest queue and retry the batches of pipeline ones.

    Raises:
        ConflictError: a message move task is already running on the ingest DLQ
            (``move_in_progress``; AWS only).
    """
    queues = _Queues(sqs, ctx.settings)
    results: list[MessageResult] = []
    move_task: MoveTask | None = None
    remaining = list(request.message_ids) if request.message_ids is not None else None
    for name in [request.queue] if request.queue else list(DeadLetterQueue):
        if remaining == []:
            break
        if name is DeadLetterQueue.INGEST:
            found, move_task = _redrive_ingest(queues, remaining, actor, request.note, ctx)
        else:
            found = _redrive_pipeline(queues, remaining, actor, request.note, ctx, enqueue)
        results.extend(found)
        if remaining is not None:
            seen = {r.message_id for r in found}
            remaining = [i for i in remaining if i not in seen]
    results.extend(_not_found(remaining or []))
    if request.message_ids is not None:
        order = {message_id: i for i, message_id in enumerate(request.message_ids)}
        results.sort(key=lambda r: order[r.message_id])
    logger.info("dead letters redriven", extra={"totals": OutcomeTotals.of(results).model_dump()})
    return RedriveReport(results=results, totals=OutcomeTotals.of(results), move_task=move_task)


def _not_found(ids: Iterable[str]) -> list[MessageResult]:
    return [
        MessageResult(
            message_id=message_id,
            queue=None,
            outcome=MessageOutcome.SKIPPED,
            reason="not in the dead-letter queues (moved, discarded, or held by another request)",
        )
        for message_id in dict.fromkeys(ids)
    ]


def _redrive_ingest(
    queues: _Queues, ids: list[str] | None, actor: str, note: str | None, ctx: PipelineContext
) -> tuple[list[MessageResult], MoveTask | None]:
    """Send ingest DLQ messages back to the ingest queue (a move task: all of them, on AWS)."""
    queue = DeadLetterQueue.INGEST
    if ids is None and not ctx.settings.local_runtime:
        return _move_all(queues, actor, note, ctx)
    held, _ = queues.hold(queue, MAX_MESSAGES if ids is None else MAX_SCAN, ids)
    done: set[str] = set()
    results: list[MessageResult] = []
    try:
        for message in _chosen(held, ids):
            # Sent before it is deleted: a crash in between leaves a duplicate, not a loss.
            queues.sqs.send_message(
                QueueUrl=ctx.settings.ingest_queue_url, MessageBody=message.body
            )
            queues.delete(queue, message)
            done.add(message.letter.message_id)
            result = _result(message, MessageOutcome.MOVED)
            _audit(ctx, "redrive", actor, note, result, message)
            results.append(result)
    finally:
        queues.release(queue, [h for i, h in held.items() if i not in done])
    return results, None


def _move_all(
    queues: _Queues, actor: str, note: str | None, ctx: PipelineContext
) -> tuple[list[MessageResult], MoveTask | None]:
    """Start a message move task for the whole ingest DLQ (AWS: moto has none)."""
    queue = DeadLetterQueue.INGEST
    held, visible = queues.hold(queue, MAX_MESSAGES)
    queues.release(queue, held.values())
    if not held and not visible:
        return [], None
    policy = queues.ingest_policy
    source = (
        policy.dead_letter_arn
        or queues.sqs.get_queue_attributes(QueueUrl=queues.url(queue), AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    )
    latest = queues.sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"]
    if latest and latest[0].get("Status") == "RUNNING":
        raise ConflictError(
            "a message move task is already taking the ingest dead-letter queue back "
            f"(task {latest[0].get('TaskHandle')}); wait for it to finish",
            code="move_in_progress",
        )
    handle = queues.sqs.start_message_move_task(SourceArn=source, DestinationArn=policy.queue_arn)[
        "TaskHandle"
    ]
    task = MoveTask(task_handle=handle, source_arn=source, destination_arn=policy.queue_arn)
    logger.info("message move task started", extra={"task": handle, "messages": visible})
    results = []
    for message in held.values():
        result = _result(
            message, MessageOutcome.MOVING, reason="a message move task takes the whole queue back"
        )
        _audit(ctx, "redrive", actor, note, result, message)
        results.append(result)
    return results, task


def _redrive_pipeline(
    queues: _Queues,
    ids: list[str] | None,
    actor: str,
    note: str | None,
    ctx: PipelineContext,
    enqueue: Callable[[ExecutionInput], None],
) -> list[MessageResult]:
    """Retry the batches of pipeline DLQ messages; delete each message whose retry was accepted."""
    queue = DeadLetterQueue.PIPELINE
    held, _ = queues.hold(queue, MAX_MESSAGES if ids is None else MAX_SCAN, ids)
    retried: dict[str, RetryAccepted] = {}
    done: set[str] = set()
    results: list[MessageResult] = []
    try:
        for message in _chosen(held, ids):
            result = _retry(message, retried, actor, ctx, enqueue)
            if result.outcome is MessageOutcome.RETRIED:
                queues.delete(queue, message)
                done.add(message.letter.message_id)
                _audit(ctx, "redrive", actor, note, result, message)
            results.append(result)
    finally:
        queues.release(queue, [h for i, h in held.items() if i not in done])
    return results


def _retry(
    message: _Held,
    retried: dict[str, RetryAccepted],
    actor: str,
    ctx: PipelineContext,
    enqueue: Callable[[ExecutionInput], None],
) -> MessageResult:
    """Retry the message's batch (once per request, however many messages name it)."""
    batch_id = message.letter.batch_id
    if batch_id is None:
        return _result(message, MessageOutcome.SKIPPED, reason=message.letter.reason)
    if batch_id not in retried:
        try:
            retried[batch_id] = request_retry(
                batch_id, chunks=None, actor=actor, ctx=ctx, enqueue=enqueue
            )
        except (ConflictError, BatchNotFoundError, UnprocessableError) as err:
            return _result(
                message, MessageOutcome.SKIPPED, reason=f"cannot retry: {err.code}: {err.message}"
            )
    return _result(message, MessageOutcome.RETRIED, run=retried[batch_id].run)


def discard(
    request: DiscardRequest, actor: str, ctx: PipelineContext, sqs: SQSClient
) -> DiscardReport:
    """Delete the chosen messages from the dead-letter queues, recording who did it.

    Raises:
        UnprocessableError: an id is in neither queue (``unknown_message``); nothing is deleted.
    """
    queues = _Queues(sqs, ctx.settings)
    wanted = list(dict.fromkeys(request.message_ids))
    holds: dict[DeadLetterQueue, dict[str, _Held]] = {}
    done: set[str] = set()
    results: list[MessageResult] = []
    try:
        for name in DeadLetterQueue:
            missing = [i for i in wanted if not any(i in h for h in holds.values())]
            if missing:
                holds[name], _ = queues.hold(name, MAX_SCAN, missing)
        chosen = set(wanted)
        found = {i: h for held in holds.values() for i, h in held.items() if i in chosen}
        unknown = [i for i in wanted if i not in found]
        if unknown:
            raise UnprocessableError(
                "nothing was deleted: not in the dead-letter queues (moved, discarded, or "
                f"held by another request): {', '.join(unknown)}",
                [{"message_id": i, "problem": "unknown_message"} for i in unknown],
                code="unknown_message",
            )
        for message_id in wanted:
            message = found[message_id]
            queues.delete(message.letter.queue, message)
            done.add(message_id)
            result = _result(message, MessageOutcome.DELETED)
            _audit(ctx, "discard", actor, request.note, result, message)
            results.append(result)
    finally:
        for name, held in holds.items():
            queues.release(name, [h for i, h in held.items() if i not in done])
    logger.info("dead letters discarded", extra={"messages": len(results)})
    return DiscardReport(results=results, totals=OutcomeTotals.of(results))
