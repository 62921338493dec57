"""What can stop a ``sluice`` command, and the exit code each one ends with.

A script that runs ``sluice`` tells the outcomes apart by exit code alone: a batch that
failed (1), a request the API or S3 refused or a wrong invocation (2), an API that
cannot be reached or answers nonsense (3), an interruption (130). Each error here
carries its code, so the command layer maps errors to exit codes in one place.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = [
    "ApiUnavailableError",
    "CliError",
    "ExitCode",
    "RequestRefusedError",
    "UploadPendingError",
    "UsageError",
]


class ExitCode(IntEnum):
    """The exit codes of ``sluice``."""

    OK = 0
    BATCH_FAILED = 1
    REFUSED = 2
    UNAVAILABLE = 3
    INTERRUPTED = 130


class CliError(Exception):
    """Base class of the errors a command reports and exits on."""

    exit_code = ExitCode.REFUSED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CliError):
    """The command cannot run as invoked: a missing key, an unreadable or unknown file."""


class RequestRefusedError(CliError):
    """The API (or S3) answered 4xx: the request was refused and nothing was stored."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code
        self.details = details or []


class UploadPendingError(RequestRefusedError):
    """``GET /batches/{id}`` is 404 ``upload_pending``: the upload's file has not arrived yet."""


class ApiUnavailableError(CliError):
    """No usable answer: the connection failed, timed out, or the server answered 5xx or junk."""

    exit_code = ExitCode.UNAVAILABLE
