"""Every exception Sluice raises on purpose, in one module.

Class names are part of the state-machine contract: a Lambda task fails with
``errorType`` equal to the class name, and the ASL's ``Retry``/``Catch`` match on
it through ``ErrorEquals``. ``tests/unit/test_state_machine.py`` checks that every
name the ASL mentions exists here, and that every transient class is retried.

Client errors carry the HTTP status the API answers with; the API maps them in
one place (``chalicelib/http_errors.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ApiRequestError",
    "BatchNotFoundError",
    "ChunkObjectMissingError",
    "IdempotencyConflictError",
    "InvalidStatePayloadError",
    "MalformedRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "SluiceError",
    "StorageUnavailableError",
    "TransientError",
    "UnknownDatasetError",
    "UnsupportedMediaTypeError",
]


class SluiceError(Exception):
    """Base class of every error Sluice raises on purpose."""


class TransientError(SluiceError):
    """A failure that may pass if the same work is tried again; the ASL retries it."""


class StorageUnavailableError(TransientError):
    """AWS throttled us or answered with a server-side error; try again with backoff."""


class InvalidStatePayloadError(SluiceError):
    """A stage received a state payload that does not match its model (a contract bug)."""


class ChunkObjectMissingError(SluiceError):
    """A stage's input object is not in S3 (a previous stage did not write it)."""


class ApiRequestError(SluiceError):
    """A request the API refuses; ``status`` is the HTTP status it answers with."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class MalformedRequestError(ApiRequestError):
    """The body cannot be read: bad JSON, an empty body, wrong CSV headers, a bad query."""

    status = 400
    code = "malformed_request"


class NotFoundError(ApiRequestError):
    """The requested resource does not exist."""

    status = 404
    code = "not_found"


class BatchNotFoundError(NotFoundError):
    """No batch has this id."""

    code = "batch_not_found"


class IdempotencyConflictError(ApiRequestError):
    """The Idempotency-Key was used before with a different body."""

    status = 409
    code = "idempotency_conflict"


class PayloadTooLargeError(ApiRequestError):
    """The body or the record count is over the limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ApiRequestError):
    """The Content-Type is missing or not one the endpoint reads."""

    status = 415
    code = "unsupported_media_type"


class UnknownDatasetError(ApiRequestError):
    """No dataset is registered under this name."""

    status = 422
    code = "unknown_dataset"
