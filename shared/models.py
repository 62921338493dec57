"""The shapes that cross a boundary: state-machine payloads, staged records, batches, API bodies.

State payloads carry S3 keys and counts, never records (the claim-check pattern), and
nothing in them grows with the size of the input: the chunk list is an S3 object (the
manifest) that the Distributed Map reads itself, and each chunk's outcome goes to the
chunk ledger in DynamoDB, not into the Map's output. Records travel between stages as
NDJSON objects in S3, each line a ``StagedRecord`` or ``RejectedRecord``.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.datasets.base import Rejection
from shared.errors import parse_coded_message
from shared.pricing import Cost

__all__ = [
    "TERMINAL_STATUSES",
    "ANY_STAGED_RECORD",
    "BATCH_ID_PATTERN",
    "BatchFailure",
    "BatchId",
    "BatchOutcome",
    "BatchSource",
    "BatchStatus",
    "BatchView",
    "ChunkFailure",
    "ChunkOutcome",
    "ChunkPayload",
    "ChunkProgress",
    "ChunkRef",
    "ContentEncoding",
    "ErrorInfo",
    "EventType",
    "ExecutionInput",
    "FinalizeInput",
    "HandledMark",
    "Lineage",
    "ObjectRef",
    "RawRow",
    "RecordCounts",
    "RecordRef",
    "RejectedRecord",
    "ReplayChild",
    "ReplayParent",
    "RunInfo",
    "RunKind",
    "SplitInput",
    "SplitResult",
    "StageName",
    "StageSummary",
    "StagedRecord",
    "StateError",
    "restaged",
    "trusted",
]

BATCH_ID_PATTERN = r"^[A-Za-z0-9-]{8,64}$"
BatchId = Annotated[str, Field(pattern=BATCH_ID_PATTERN)]
Count = Annotated[int, Field(ge=0)]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
RecordT = TypeVar("RecordT", bound=BaseModel)
ModelT = TypeVar("ModelT", bound=BaseModel)
_SET = object.__setattr__


def trusted(model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """Build a model from values that already satisfy it: every field, final, checked.

    For the records a stage computes from records it has validated (a transformed or an
    enriched flight, a lineage with one more timestamp): validating them again, or even
    ``model_construct``'s per-field loop, was most of transform's and enrich's time. It
    does what ``model_construct`` does for a model without defaults to fill, private
    attributes or post-init; ``values`` becomes the instance's ``__dict__``.
    """
    instance = model.__new__(model)
    _SET(instance, "__dict__", values)
    _SET(instance, "__pydantic_fields_set__", set(values))
    _SET(instance, "__pydantic_extra__", None)
    _SET(instance, "__pydantic_private__", None)
    return instance


class BatchStatus(StrEnum):
    """Where a batch is in its life."""

    RECEIVED = "RECEIVED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    COMPLETED_WITH_REJECTS = "COMPLETED_WITH_REJECTS"
    FAILED = "FAILED"


TERMINAL_STATUSES = frozenset(
    {BatchStatus.SUCCEEDED, BatchStatus.COMPLETED_WITH_REJECTS, BatchStatus.FAILED}
)
"""The statuses a batch ends in (a retry or a replay may start it again)."""


class BatchSource(StrEnum):
    """How a batch came in: a request body, or a file uploaded to S3."""

    REQUEST = "request"
    UPLOAD = "upload"


class ContentEncoding(StrEnum):
    """How a raw object is compressed (absent: not at all)."""

    GZIP = "gzip"


class EventType(StrEnum):
    """The events published on the pipeline-events topic."""

    BATCH_SUCCEEDED = "BatchSucceeded"
    BATCH_COMPLETED_WITH_REJECTS = "BatchCompletedWithRejects"
    BATCH_FAILED = "BatchFailed"


class StageName(StrEnum):
    """The per-chunk stages, in pipeline order; names match the ASL states and modules."""

    VALIDATE = "validate"
    TRANSFORM = "transform"
    ENRICH = "enrich"
    STORE = "store"


# --- state-machine payloads -------------------------------------------------------------


class ExecutionInput(BaseModel):
    """A batch to start: the ingest queue's message, and the input of its execution.

    The execution is named after the batch (``run`` 0) or after the batch and the run
    (``<batch_id>-r<run>``: a retry), so a duplicate message starts nothing new.
    """

    model_config = _FROZEN

    batch_id: BatchId
    run: Count = 0


class SplitInput(BaseModel):
    """What ``split`` receives: the batch, and the execution (whose name says which run)."""

    model_config = _FROZEN

    batch_id: BatchId
    execution_arn: str | None = None


class ObjectRef(BaseModel):
    """An S3 object, as the ASL's S3 integrations name one."""

    model_config = _FROZEN

    bucket: str
    key: str


class ChunkRef(BaseModel):
    """One chunk of a batch in S3: an item of the manifest the Distributed Map reads.

    ``first_line``..``last_line`` are the source lines it holds, so a failed chunk's
    rejects can be found and withdrawn without reading the chunk.
    """

    model_config = _FROZEN

    index: Count
    key: str
    records: Count
    first_line: Annotated[int, Field(ge=1)]
    last_line: Annotated[int, Field(ge=1)]


class SplitResult(BaseModel):
    """What ``split`` returns: where the manifest is and how many chunks it lists (not the list)."""

    model_config = _FROZEN

    dataset: str
    source_key: str
    records_received: Count
    chunks_total: Count
    manifest: ObjectRef
    max_concurrency: Annotated[int, Field(ge=1)]


class ChunkPayload(BaseModel):
    """The state of one chunk as it moves through validate → transform → enrich → store.

    ``current_key`` names the object the next stage reads; every stage writes its
    output to a key derived from the batch, the chunk and the stage, so a retried
    stage overwrites its own output instead of adding to it.
    """

    model_config = _FROZEN

    batch_id: BatchId
    dataset: str
    execution_arn: str
    source_key: str
    chunk: ChunkRef
    chunk_execution_arn: str | None = Field(
        default=None,
        description="The execution running the chunk: a Map Run child on AWS, the batch's locally.",
    )
    current_key: str | None = None
    rejected: Count = 0


class RecordCounts(BaseModel):
    """What became of records: received = processed + rejected + failed, once work is done.

    The one vocabulary of counts, for what one invocation did, one chunk and one batch.
    """

    model_config = _FROZEN

    received: Count = 0
    processed: Count = 0
    rejected: Count = 0
    failed: Count = 0


class ChunkOutcome(RecordCounts):
    """The counts of one finished (or failed) chunk: a Map Run child's (fixed-size) output."""

    index: Count
    error: str | None = None

    def stage_counts(self) -> RecordCounts:
        """What the chunk's last stage did: its valid records, stored or failed."""
        return RecordCounts(
            received=self.received - self.rejected, processed=self.processed, failed=self.failed
        )


class StateError(BaseModel):
    """The error object a ``Catch`` puts at its ``ResultPath``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Error: str
    Cause: str = ""

    def to_error_info(self, max_message: int = 1_000, chunk: int | None = None) -> ErrorInfo:
        """Return the error for users: Lambda's ``errorMessage`` when the Cause is its JSON.

        A coded error's message (``[code] line N: text``) gives its code and line too.
        """
        message = self.Cause
        try:
            cause = json.loads(self.Cause)
        except ValueError:
            cause = None
        if isinstance(cause, dict) and isinstance(cause.get("errorMessage"), str):
            message = cause["errorMessage"]
        coded = parse_coded_message(message)
        return ErrorInfo(
            type=self.Error,
            message=coded.message[:max_message],
            code=coded.code,
            line=coded.line,
            chunk=chunk,
        )


class ChunkFailure(ChunkPayload):
    """A chunk payload with the error that stopped it (the input of ``record_chunk_failure``)."""

    error: StateError


class FinalizeInput(BaseModel):
    """What ``finalize`` receives: only the batch; its counts are in the chunk ledger."""

    model_config = _FROZEN

    batch_id: BatchId
    execution_arn: str


class BatchFailure(BaseModel):
    """What ``mark_failed`` receives when a batch-level state fails."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    batch_id: BatchId
    execution_arn: str
    error: StateError


class ErrorInfo(BaseModel):
    """A failure as stored on a batch and shown to users.

    ``type`` is the error class (or AWS error) name, ``code`` a machine-readable reason
    where there is one (``header_mismatch``, ``not_utf8``, ``size_mismatch`` ...), ``line``
    the source line it is about and ``chunk`` the chunk it stopped.
    """

    model_config = _FROZEN

    type: str
    message: str
    code: str | None = None
    line: int | None = None
    chunk: int | None = None


class BatchOutcome(BaseModel):
    """The terminal summary of a batch; also the message published on the events topic."""

    model_config = _FROZEN

    event_type: EventType
    batch_id: BatchId
    dataset: str | None
    status: BatchStatus
    execution_arn: str
    counts: RecordCounts
    error: ErrorInfo | None = None


# --- records between stages ---------------------------------------------------------------


class RecordRef(BaseModel):
    """One source line of one batch: how a record is named across batches."""

    model_config = _FROZEN

    batch_id: BatchId
    line: Annotated[int, Field(ge=1)]


class RawRow(BaseModel):
    """One input record as received, with its position in the source object.

    ``problem`` is set when the reader could not even make the line a record (an
    NDJSON line that is not a JSON object, in an upload): validation rejects it with
    that reason, and ``values`` holds what could be kept of the line.
    """

    model_config = _FROZEN

    line: Annotated[int, Field(ge=1)]
    values: dict[str, Any]
    problem: Rejection | None = None
    origin: RecordRef | None = None


class Lineage(BaseModel):
    """Where a record came from and when each stage touched it."""

    model_config = _FROZEN

    batch_id: BatchId
    execution_arn: str
    source_key: str
    line: Annotated[int, Field(ge=1)]
    replay_of: RecordRef | None = Field(
        default=None, description="The rejected record this one replays (batch and line)."
    )
    validated_at: datetime | None = None
    transformed_at: datetime | None = None
    enriched_at: datetime | None = None
    stored_at: datetime | None = None


class StagedRecord(BaseModel, Generic[RecordT]):
    """A record in one of its dataset states, with its lineage."""

    model_config = _FROZEN

    lineage: Lineage
    record: RecordT


def restaged(
    staged: StagedRecord[Any], record: BaseModel, stamp: dict[str, datetime]
) -> StagedRecord[Any]:
    """``record`` with ``staged``'s lineage and the stage timestamps in ``stamp`` added.

    Both are trusted (``trusted``): the lineage was validated when the chunk was read,
    the record comes from the dataset's function, and a stamp is a ``Lineage`` field.
    """
    lineage = trusted(Lineage, staged.lineage.__dict__ | stamp)
    return trusted(ANY_STAGED_RECORD, {"lineage": lineage, "record": record})


ANY_STAGED_RECORD = StagedRecord[Any]
"""``StagedRecord[Any]``, parametrised once: pydantic looks a generic up anew at every use."""


class RejectedRecord(BaseModel):
    """A record validation refused, its raw values and every reason."""

    model_config = _FROZEN

    lineage: Lineage
    values: dict[str, Any]
    reasons: list[Rejection]


# --- batches ---------------------------------------------------------------------------------


class StageSummary(BaseModel):
    """Progress of one stage over a whole batch (summed over its chunks)."""

    model_config = _FROZEN

    chunks_done: Count = 0
    received: Count = 0
    processed: Count = Field(default=0, description="Records the stage passed on (or stored).")
    rejected: Count = 0
    failed_attempts: Count = Field(
        default=0, description="Invocations that failed (retried or not)."
    )
    chunks_caught: Count = Field(default=0, description="Chunks whose failure stopped here.")
    last_error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ChunkProgress(BaseModel):
    """Where a batch's chunks are, from the chunk ledger's summary (one item, however many)."""

    model_config = _FROZEN

    total: Count | None = None
    pending: Count = 0
    running: Count = 0
    stored: Count = 0
    failed: Count = 0


class HandledMark(BaseModel):
    """On a failure (a batch, a chunk, a reject): who marked it handled, when, and why."""

    model_config = _FROZEN

    by: str
    at: datetime
    note: Annotated[str | None, Field(max_length=2_000)] = None


class RunKind(StrEnum):
    """How a run of a batch came about."""

    INITIAL = "initial"
    RETRY = "retry"
    """Only the failed chunks (all, or the chosen ones) run again."""
    RERUN = "rerun"
    """The batch failed at a batch-level state (split, finalize): it runs from the start."""


class RunInfo(BaseModel):
    """One run of a batch: its first execution, or a retry."""

    model_config = _FROZEN

    run: Count
    kind: RunKind
    execution_arn: str | None = None
    chunks: list[Count] | None = Field(
        default=None, description="The chunks a retry was asked for (None: every failed one)."
    )
    requested_by: str | None = None
    requested_at: datetime | None = None
    finished_at: datetime | None = None
    status: BatchStatus | None = Field(
        default=None, description="The batch's status when the run ended (None: running)."
    )
    redrive: bool = Field(
        default=False,
        description="On AWS, a stopped execution is redriven (same ARN) instead of re-run.",
    )


class ReplayParent(BaseModel):
    """What a replay batch replays: its parent, and the parent's line of each of its lines."""

    model_config = _FROZEN

    batch_id: BatchId
    lines: list[Annotated[int, Field(ge=1)]] = Field(
        description="The parent's source line of the replay's line 1, 2, ... (in order)."
    )


class ReplayChild(BaseModel):
    """A replay a batch's rejects led to."""

    model_config = _FROZEN

    batch_id: BatchId
    records: Count
    requested_by: str
    requested_at: datetime


class BatchView(BaseModel):
    """A batch as the API shows it."""

    model_config = _FROZEN

    batch_id: BatchId
    dataset: str
    status: BatchStatus
    source: BatchSource = BatchSource.REQUEST
    content_type: str
    content_encoding: ContentEncoding | None = None
    filename: str | None = None
    size_bytes: Count | None = None
    raw_key: str
    received_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    execution_arn: str | None = None
    counts: RecordCounts
    chunks_total: Count | None = None
    chunks_failed: Count = 0
    chunks: ChunkProgress = Field(default_factory=ChunkProgress)
    split_bytes_read: Count | None = Field(
        default=None, description="How far split has read the raw object (while it runs)."
    )
    stages: dict[StageName, StageSummary] = Field(default_factory=dict)
    error: ErrorInfo | None = None
    runs: list[RunInfo] = Field(
        default_factory=list, description="Its runs, first to latest; the latest is running or ran."
    )
    replay_of: ReplayParent | None = None
    replays: list[ReplayChild] = Field(default_factory=list)
    cost: Cost | None = Field(
        default=None, description="What the batch cost at list prices, from its counted calls."
    )
    handled: HandledMark | None = Field(
        default=None, description="Set when someone marked its failure handled in the inbox."
    )
