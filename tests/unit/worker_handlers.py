"""Handlers for the worker pool's tests, imported by each worker process by name."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devserver.lambda_dispatch import Handler


def _pid(event: Any, context: Any) -> dict[str, Any]:
    return {"pid": os.getpid(), "function": context.function_name, "event": event}


def _boom(event: Any, context: Any) -> None:
    raise LookupError("no such row")


def handlers() -> dict[str, Handler]:
    """The test functions by name."""
    return {"pid": _pid, "boom": _boom}
