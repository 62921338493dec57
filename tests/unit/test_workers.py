"""The local runtime's worker pool: warm processes that answer as Lambda does, and end with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devserver.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterator

FACTORY = "tests.unit.worker_handlers:handlers"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(2, {"pid", "boom", "missing"}, factory=FACTORY)
    yield workers
    workers.shutdown()


def test_invocations_run_in_the_warm_workers_not_in_this_process(pool: WorkerPool):
    warm = pool.warm()

    seen = {json.loads(pool("pid", b'{"n": 1}')[0])["pid"] for _ in range(20)}

    assert len(warm) == 2
    assert os.getpid() not in warm
    assert seen <= set(warm)
    answer, failed = pool("pid", b'{"n": 1}')
    assert not failed
    assert json.loads(answer)["event"] == {"n": 1}


def test_a_handler_error_comes_back_as_lambdas_error_document(pool: WorkerPool):
    answer, failed = pool("boom", b"{}")

    assert failed
    assert json.loads(answer)["errorType"] == "LookupError"


@pytest.mark.parametrize("name", ["missing", "not-a-function"])
def test_a_function_no_worker_has_is_not_found(pool: WorkerPool, name: str):
    answer, failed = pool(name, b"{}")

    assert failed
    assert json.loads(answer) == {"errorType": "ResourceNotFoundException", "errorMessage": name}


_ORPHANING_PARENT = f"""
from devserver.workers import WorkerPool
pool = WorkerPool(2, set(), factory={FACTORY!r})
print(" ".join(map(str, pool.warm())), flush=True)
import time
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()  # a zombie has ended too
    return stat.split(") ", 1)[1][0] != "Z"


def test_workers_end_when_the_runtime_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHANING_PARENT], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(_alive(pid) for pid in workers)

    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert not any(_alive(pid) for pid in workers)
