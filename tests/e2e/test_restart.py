"""The local runtime survives a restart: a clean stop keeps everything, a kill -9 the last save.

A runtime processes batches and is stopped (cleanly, then with SIGKILL in the middle of
a batch); a new runtime on the same state folder finds them again: the batches, their
counts, chunks, records and rejects, and the dashboard shows them. The batch the kill
interrupted ends ``FAILED`` with the retryable ``RuntimeRestarted``, and its retry
completes it with exact totals.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

import requests
from playwright.sync_api import expect

from shared.models import TERMINAL_STATUSES
from tests.e2e.conftest import API_TOKEN, json_of, start_local_runtime
from tests.e2e.dashboard_pages import launch_chromium, open_dashboard, repeated_csv

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from tests.e2e.conftest import LocalRuntime

HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}


def _post(runtime: LocalRuntime, rows: int) -> str:
    response = requests.post(
        f"{runtime.api}/batches?dataset=flights",
        data=repeated_csv(rows),
        headers={**HEADERS, "Content-Type": "text/csv"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return str(json_of(response)["batch_id"])


def _batch(runtime: LocalRuntime, batch_id: str) -> dict[str, Any]:
    response = requests.get(f"{runtime.api}/batches/{batch_id}", headers=HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = json_of(response)
    return batch


def _wait(
    runtime: LocalRuntime, batch_id: str, until: Collection[str], seconds: float = 120
) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = _batch(runtime, batch_id)
        if batch["status"] in until:
            return batch
        time.sleep(0.3)
    raise AssertionError(f"{batch_id} not {until} in {seconds} s:\n{runtime.log_tail()}")


def _saved_at(state: Path) -> float:
    path = state / "snapshot" / "saved_at"
    return float(path.read_text()) if path.exists() else 0.0


def test_batches_survive_a_clean_stop_and_a_kill(tmp_path: Path):
    environment = {"SLUICE_CHUNK_SIZE": "250"}
    with start_local_runtime(tmp_path, environment) as first:
        done = _post(first, 750)
        before = _wait(first, done, TERMINAL_STATUSES)
        records = requests.get(
            f"{first.api}/batches/{done}/records?limit=50", headers=HEADERS, timeout=30
        ).json()
    assert before["status"] == "SUCCEEDED"

    with start_local_runtime(tmp_path, environment) as second:
        after = _batch(second, done)
        assert (after["status"], after["counts"], after["chunks"]) == (
            before["status"],
            before["counts"],
            before["chunks"],
        )
        again = requests.get(
            f"{second.api}/batches/{done}/records?limit=50", headers=HEADERS, timeout=30
        ).json()
        assert again["records"] == records["records"]
        gone = requests.get(f"{second.api}/batches/{done}/execution", headers=HEADERS, timeout=30)
        assert (gone.status_code, gone.json()["code"]) == (404, "execution_gone")

        # A batch in the middle of its run when the runtime is killed (after a save saw it).
        running = _post(second, 20_000)
        batch = _wait(second, running, {"RUNNING"})
        seen = time.time()
        deadline = time.monotonic() + 60
        while _saved_at(second.state_dir) <= seen and time.monotonic() < deadline:
            time.sleep(0.2)
        # saved_at is when a save began reading, so this save holds the running batch.
        assert _saved_at(second.state_dir) > seen, "no save began in 60 s"
        assert _batch(second, running)["status"] == "RUNNING", "it finished before the kill"
        os.killpg(second.process.pid, signal.SIGKILL)
        second.process.wait(timeout=10)
    assert batch["status"] == "RUNNING"

    with start_local_runtime(tmp_path, environment) as third:
        assert _batch(third, done)["status"] == "SUCCEEDED"
        interrupted = _batch(third, running)
        assert interrupted["status"] == "FAILED"
        assert interrupted["error"]["type"] == "RuntimeRestarted"
        assert f"/batches/{running}/retry" in interrupted["error"]["message"]
        retried = requests.post(f"{third.api}/batches/{running}/retry", headers=HEADERS, timeout=30)
        assert retried.status_code == 202, retried.text
        final = _wait(third, running, {"SUCCEEDED", "COMPLETED_WITH_REJECTS"}, seconds=240)
        assert final["counts"] == {
            "received": 20_000,
            "processed": 20_000,
            "rejected": 0,
            "failed": 0,
        }
        assert final["chunks"]["stored"] == 80
        with launch_chromium() as browser:
            dashboard = open_dashboard(browser, third.api)
            dashboard.sign_in(API_TOKEN)
            dashboard.open(f"#/batches/{done}")
            expect(dashboard.page.locator("[data-batch-status]")).to_have_attribute(
                "data-batch-status", "SUCCEEDED"
            )
            expect(dashboard.page.get_by_text("the local runtime restarted")).to_be_visible()
            dashboard.screenshot("restart-restored-batch")
