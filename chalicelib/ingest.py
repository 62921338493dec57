"""Taking a batch in: refuse bad input before anything is stored, then store, record and queue it.

Order matters for "no trace on bad input" and "no duplicates": every check runs
before the first write; the raw object and the batch item are keyed by the batch id,
which an ``Idempotency-Key`` fixes, so a repeated post finds the first batch.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.request_body import content_encoding, input_format, parse_body
from chalicelib.schemas import BatchAccepted
from shared.batches import NewBatch
from shared.clock import utc_now
from shared.errors import IdempotencyConflictError, MalformedRequestError
from shared.models import BatchStatus, ExecutionInput, ReplayParent
from shared.objects import raw_key
from shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.context import PipelineContext

__all__ = ["IngestRequest", "batch_id_for", "check_idempotency_key", "ingest"]

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass(frozen=True)
class IngestRequest:
    """What ``POST /batches`` received."""

    body: bytes
    content_type: str | None
    dataset: str | None
    idempotency_key: str | None
    content_encoding: str | None = None
    replay_of: ReplayParent | None = None


def ingest(
    request: IngestRequest,
    ctx: PipelineContext,
    enqueue: Callable[[ExecutionInput], None],
) -> BatchAccepted:
    """Accept a batch: store its raw body, record it as ``RECEIVED`` and queue its start.

    Raises:
        UnsupportedMediaTypeError: missing or unsupported Content-Type or Content-Encoding.
        MalformedRequestError: the body or the Idempotency-Key is malformed.
        PayloadTooLargeError: over the body or record limit.
        UnknownDatasetError: no such dataset.
        IdempotencyConflictError: the Idempotency-Key was used with another body.
    """
    fmt = input_format(request.content_type)
    encoding = content_encoding(request.content_encoding)
    check_idempotency_key(request.idempotency_key)
    parsed = parse_body(
        request.body,
        fmt,
        dataset=request.dataset,
        max_records=ctx.settings.max_records,
        max_body_bytes=ctx.settings.max_body_bytes,
        encoding=encoding,
        max_inflated_bytes=ctx.settings.max_inflated_bytes,
    )
    digest = hashlib.sha256(
        f"{fmt.value}\n{encoding or ''}\n{parsed.dataset}\n".encode() + request.body
    ).hexdigest()
    batch_id = batch_id_for(request.idempotency_key)
    accepted = BatchAccepted(
        batch_id=batch_id,
        status_url=f"/batches/{batch_id}",
        records_received=len(parsed.rows),
    )
    if request.idempotency_key is not None and _seen_before(ctx, batch_id, digest, enqueue):
        return accepted.model_copy(update={"duplicate": True})
    extension = fmt.extension + (".gz" if encoding else "")
    key = raw_key(parsed.dataset, batch_id, extension)
    ctx.raw.put_bytes(key, request.body, fmt.value, encoding)
    created = ctx.batches.create(
        NewBatch(
            batch_id=batch_id,
            dataset=parsed.dataset,
            content_type=fmt.value,
            content_encoding=encoding,
            size_bytes=len(request.body),
            raw_key=key,
            payload_sha256=digest,
            records_received=len(parsed.rows),
            received_at=utc_now(),
            idempotency_key=request.idempotency_key,
            replay_of=request.replay_of,
        )
    )
    if not created and _seen_before(ctx, batch_id, digest, enqueue):
        # A concurrent post with the same key won the race; it is the batch.
        return accepted.model_copy(update={"duplicate": True})
    enqueue(ExecutionInput(batch_id=batch_id))
    logger.info(
        "batch received",
        extra={"batch_id": batch_id, "dataset": parsed.dataset, "records": len(parsed.rows)},
    )
    return accepted


def check_idempotency_key(idempotency_key: str | None) -> None:
    """Refuse an Idempotency-Key that is not 1 to 128 printable ASCII characters.

    Raises:
        MalformedRequestError: it is not.
    """
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise MalformedRequestError(
            "the Idempotency-Key header must be 1 to 128 printable ASCII characters"
        )


def batch_id_for(idempotency_key: str | None) -> str:
    """Return the batch id a request makes: fixed by its Idempotency-Key, else a new one."""
    if idempotency_key is None:
        # Time-ordered, so ids sort by arrival; random enough never to collide.
        return f"{utc_now():%Y%m%dT%H%M%S}-{secrets.token_hex(8)}"
    return "key-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def _seen_before(
    ctx: PipelineContext,
    batch_id: str,
    digest: str,
    enqueue: Callable[[ExecutionInput], None],
) -> bool:
    existing = ctx.batches.payload_digest(batch_id)
    if existing is None:
        return False
    if existing != digest:
        raise IdempotencyConflictError(
            "this Idempotency-Key was used before with a different body or dataset"
        )
    if ctx.batches.get(batch_id).status is BatchStatus.RECEIVED:
        # The first post may have stopped before its message was queued; starting is idempotent.
        enqueue(ExecutionInput(batch_id=batch_id))
    return True
