"""Every exception Sluice raises on purpose, in one module.

Class names are part of the state-machine contract: a Lambda task fails with
``errorType`` equal to the class name, and the ASL's ``Retry``/``Catch`` match on
it through ``ErrorEquals``. ``tests/unit/test_state_machine.py`` checks that every
name the ASL mentions exists here, and that every transient class is retried.

A ``RequestError`` is a request that cannot be done, with a machine-readable ``code``;
it knows nothing of HTTP. The API layer maps each class to its status in one table
(``chalicelib/http_errors.py``), the way moto keeps wire errors in its response layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "AwsRequestError",
    "BatchNotFoundError",
    "ChunkNotFoundError",
    "ChunkObjectMissingError",
    "CodedMessage",
    "ConflictError",
    "IdempotencyConflictError",
    "InvalidStatePayloadError",
    "LedgerContentionError",
    "MalformedRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RequestError",
    "SluiceError",
    "SourceFormatError",
    "StorageUnavailableError",
    "TransientError",
    "UnknownDatasetError",
    "UnprocessableError",
    "UnsupportedMediaTypeError",
    "UploadMismatchError",
    "UploadPendingError",
    "field_errors",
    "parse_coded_message",
]

# "[code] line 12: message" (the line is optional): how an error with a machine-readable
# code travels through Lambda's ``errorMessage`` and the ASL's ``Cause`` to the batch.
_CODED = re.compile(r"^\[(?P<code>[a-z0-9_]+)\](?: line (?P<line>\d+):)? (?P<message>.*)$", re.S)


def field_errors(error: ValidationError, limit: int = 20) -> list[dict[str, Any]]:
    """The ``details`` of a refusal: each failed field of a pydantic error and why."""
    return [
        {"field": ".".join(str(part) for part in detail["loc"]) or "body", "message": detail["msg"]}
        for detail in error.errors(include_url=False, include_input=False)[:limit]
    ]


@dataclass(frozen=True)
class CodedMessage:
    """An error message split into its machine-readable code, line and text."""

    code: str | None
    line: int | None
    message: str


def parse_coded_message(text: str) -> CodedMessage:
    """Split a message written by a coded error (``[code] line N: text``) into its parts."""
    match = _CODED.match(text)
    if match is None:
        return CodedMessage(code=None, line=None, message=text)
    line = match.group("line")
    return CodedMessage(
        code=match.group("code"), line=int(line) if line else None, message=match.group("message")
    )


class SluiceError(Exception):
    """Base class of every error Sluice raises on purpose."""


class TransientError(SluiceError):
    """A failure that may pass if the same work is tried again; the ASL retries it."""


class StorageUnavailableError(TransientError):
    """AWS throttled us or answered with a server-side error; try again with backoff."""


class LedgerContentionError(TransientError):
    """A chunk's ledger entry kept changing under us; the state machine tries the stage again."""


class _CodedError(SluiceError):
    """An error with a machine-readable ``code`` and, where it applies, the source ``line``.

    ``str()`` of it is ``[code] line N: message``, which is what Lambda reports as the
    ``errorMessage``; ``parse_coded_message`` reads the parts back on the failure path.
    """

    def __init__(
        self,
        code: str,
        message: str,
        line: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message, line)
        self.code = code
        self.message = message
        self.line = line
        self.details = details or {}

    def __str__(self) -> str:
        where = f" line {self.line}:" if self.line is not None else ""
        return f"[{self.code}]{where} {self.message}"


class SourceFormatError(_CodedError):
    """A batch's raw object cannot be read as its format: empty, not UTF-8, a wrong header."""


class UploadMismatchError(_CodedError):
    """An uploaded object is not what its upload declared (size, content type)."""


class AwsRequestError(SluiceError):
    """AWS refused a request for good (not throttling): its error code and operation say why.

    The message starts ``<Code> on <Operation>`` (``ValidationException on BatchWriteItem``),
    so a failed chunk or batch names its real cause, not a bare ``ClientError``.
    """

    def __init__(self, code: str, operation: str, message: str) -> None:
        super().__init__(f"{code} on {operation}: {message}")
        self.code = code
        self.operation = operation


class InvalidStatePayloadError(SluiceError):
    """A stage received a state payload that does not match its model (a contract bug)."""


class ChunkObjectMissingError(SluiceError):
    """A stage's input object is not in S3 (a previous stage did not write it)."""


class RequestError(SluiceError):
    """A request that cannot be done as asked; ``code`` says why, ``details`` what exactly."""

    code: str = "bad_request"

    def __init__(
        self, message: str, details: list[dict[str, Any]] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code is not None:
            self.code = code


class MalformedRequestError(RequestError):
    """The body cannot be read: bad JSON, an empty body, wrong CSV headers, a bad query."""

    code = "malformed_request"


class NotFoundError(RequestError):
    """The requested resource does not exist."""

    code = "not_found"


class BatchNotFoundError(NotFoundError):
    """No batch has this id."""

    code = "batch_not_found"


class UploadPendingError(NotFoundError):
    """An upload was issued for this batch id, but its object has not arrived yet."""

    code = "upload_pending"


class ChunkNotFoundError(NotFoundError):
    """The batch has no chunk with this index."""

    code = "chunk_not_found"


class IdempotencyConflictError(RequestError):
    """The Idempotency-Key was used before with a different body."""

    code = "idempotency_conflict"


class ConflictError(RequestError):
    """The request cannot be done in the resource's present state (a running batch, ...)."""

    code = "conflict"


class UnprocessableError(RequestError):
    """The request is well formed but names what cannot be acted on (an unknown chunk, ...)."""

    code = "unprocessable"


class PayloadTooLargeError(RequestError):
    """The body or the record count is over the limit."""

    code = "payload_too_large"


class UnsupportedMediaTypeError(RequestError):
    """The Content-Type is missing or not one the endpoint reads."""

    code = "unsupported_media_type"


class UnknownDatasetError(RequestError):
    """No dataset is registered under this name."""

    code = "unknown_dataset"
