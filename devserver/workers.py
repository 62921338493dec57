"""Lambda's execution environments, locally: warm worker processes that run the real handlers.

On AWS every invocation runs in an execution environment of its own, a separate process
reused warm for later invocations, so a Distributed Map's concurrent chunks run on as
many cores as they need. The local runtime does the same with a pool of worker
processes: each imports the app once (its cold start) and then takes one invocation at a
time, while moto (the AWS) stays in the runtime's own process. Without it, every handler
ran on the threads of that one process and shared one core with moto. Workers are
started with ``spawn`` (a fresh interpreter, not a fork of a process full of server
threads) and read the runtime's environment: the local AWS endpoint and the settings.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from devserver.lambda_dispatch import invoke_handler, not_found

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from multiprocessing.synchronize import Barrier

    from devserver.lambda_dispatch import Handler

__all__ = ["DEFAULT_HANDLERS", "WorkerPool"]

DEFAULT_HANDLERS = "devserver.runtime:lambda_handlers"
"""Where a worker finds its handlers: ``module:function`` returning them by name."""

_PARENT_CHECK_SECONDS = 1.0
_START_TIMEOUT_SECONDS = 120.0

# The handlers of this worker process, loaded once by its initializer.
_HANDLERS: Mapping[str, Handler] = {}
_ARRIVALS: Barrier | None = None


def _start(factory: str, parent: int, arrivals: Barrier) -> None:
    global _HANDLERS, _ARRIVALS
    _ARRIVALS = arrivals
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    module, _, function = factory.partition(":")
    _HANDLERS = getattr(importlib.import_module(module), function)()


def _exit_with(parent: int) -> None:
    """End this worker when the runtime is gone (killed, so it could not shut the pool down)."""
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(0)


def _run(name: str, body: bytes | str | None) -> tuple[bytes, bool]:
    handler = _HANDLERS.get(name)
    return not_found(name) if handler is None else invoke_handler(handler, name, body)


def _arrive() -> int:
    """Wait for every worker to take one of these (so each is started), then give the pid."""
    assert _ARRIVALS is not None
    _ARRIVALS.wait(timeout=_START_TIMEOUT_SECONDS)
    return os.getpid()


class WorkerPool:
    """An invoker (``devserver.lambda_dispatch.Invoker``) backed by warm worker processes."""

    def __init__(
        self, processes: int, names: Collection[str], factory: str = DEFAULT_HANDLERS
    ) -> None:
        self.processes = processes
        self._names = frozenset(names)
        context = multiprocessing.get_context("spawn")
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=context,
            initializer=_start,
            initargs=(factory, os.getpid(), context.Barrier(processes)),
        )

    def __call__(self, name: str, body: bytes | str | None) -> tuple[bytes, bool]:
        """Run one invocation in a free worker (waiting for one, as Lambda queues none)."""
        if name not in self._names:
            return not_found(name)
        return self._executor.submit(_run, name, body).result()

    def warm(self) -> list[int]:
        """Start every worker now (their cold starts), and return their process ids.

        The pool starts a worker for each task submitted while none is idle, so one task
        per worker that waits for all the others starts them all.
        """
        arrivals = [self._executor.submit(_arrive) for _ in range(self.processes)]
        return sorted(future.result() for future in arrivals)

    def shutdown(self) -> None:
        """Stop the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)
