"""The dashboard in a real browser, against the running local runtime.

Each test does what a person would: sign in with a key, upload a file, watch the batch
finish, read its rejects, its records and its execution graph. Data a record carries is
hostile by assumption; the dashboard must show it as text and never run it. Every view
is saved as a screenshot at laptop and phone width under ``tests/e2e/screenshots/``.
"""

from __future__ import annotations

import gzip
import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from shared.models import TERMINAL_STATUSES
from tests.e2e.conftest import CHUNK_ROWS, FAILING_CHUNK, FAILING_ROWS
from tests.e2e.dashboard_pages import (
    BATCH_DEADLINE_S,
    DATA_DIR,
    UA1545,
    UI_TIMEOUT_MS,
    VIEWPORTS,
    XSS,
    XSS_FIELD,
    ApiClient,
    Dashboard,
    finished,
    mixed_csv,
    open_dashboard,
    repeated_csv,
)
from tests.functional.readings_dataset import readings_csv
from tests.uploads import send_to_ticket

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser

    from tests.e2e.conftest import LocalRuntime

pytestmark = pytest.mark.e2e
expect.set_options(timeout=UI_TIMEOUT_MS)

TERMINAL_STATUS = re.compile(f"^({'|'.join(sorted(TERMINAL_STATUSES))})$")
REFUSED = "Your key was refused"
HOSTILE = {**UA1545, "flight": 1546, "tailnum": XSS, "remarks": XSS, XSS_FIELD: XSS}
MIXED_ROWS = 200
BROKEN_ROWS = len((DATA_DIR / "flights_broken.csv").read_text(encoding="utf-8").splitlines()) - 1
BODY_LIMIT = 5_000_000
WRONG_HEADER = b"year,month,dia,dep_time\n2013,1,1,517\n"
# The processed table's header, from each dataset's display (GET /datasets).
FLIGHT_COLUMNS = ["Flight", "Carrier", "Route", "Scheduled departure", "Delay", "Gaps"]
READING_COLUMNS = ["Reading", "Taken", "Temperature", "Site", "Gaps"]


def csv_just_over(limit: int) -> tuple[bytes, int]:
    """A valid flights CSV of a little over ``limit`` bytes (about 5.1 MB), and its row count."""
    lines = (DATA_DIR / "flights_1000.csv").read_text(encoding="utf-8").splitlines()
    row_bytes = sum(len(line) + 1 for line in lines[1:]) / (len(lines) - 1)
    rows = int(limit * 1.02 / row_bytes)
    body = repeated_csv(rows)
    assert limit < len(body) < limit * 1.05, len(body)
    return body, rows


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def posted_batch(client: ApiClient, local_runtime: LocalRuntime) -> dict[str, Any]:
    """The mixed CSV posted over the API (not the browser), finished."""
    accepted = client.post_csv(mixed_csv(MIXED_ROWS))
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
    upload.write_bytes(mixed_csv(MIXED_ROWS))
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

    # Processed records are enriched, in the columns the flights dataset declares; a
    # record's lineage points back at the upload.
    processed = page.locator("[data-region='processed']")
    expect(processed.locator("thead th")).to_have_text(FLIGHT_COLUMNS)
    ua1545 = processed.locator("tr[data-record-label='UA1545-2013-01-01-EWR']")
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


def test_the_batch_page_waits_for_an_upload_and_then_follows_its_batch(
    dashboard: Dashboard, api_token: str, client: ApiClient, local_runtime: LocalRuntime
):
    body = mixed_csv(MIXED_ROWS)
    ticket = client.request_upload("flights-mixed.csv", body)
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/batches/{ticket['batch_id']}")

    # The API answers 404 upload_pending until S3 has the file: a wait, not an error.
    waiting = page.locator("[data-pending='upload']")
    expect(waiting).to_contain_text("Waiting for the file to be registered")
    expect(waiting).to_contain_text("flights-mixed.csv")
    expect(page.locator("[data-batch-status]")).to_have_attribute(
        "data-batch-status", "UPLOAD_PENDING"
    )
    expect(page.locator("main .alert-danger")).to_have_count(0)
    dashboard.screenshot("batch-waiting")

    send_to_ticket(ticket, body, "flights-mixed.csv")
    assert wait_for_terminal(dashboard, local_runtime) == "COMPLETED_WITH_REJECTS"
    expect(waiting).to_have_count(0)
    expect(page.locator("[data-chunk-progress]")).to_have_attribute("data-chunk-progress", "1/1")
    expect(page.locator("[data-chunk-row='0']")).to_have_attribute("data-chunk-status", "stored")
    expect(page.locator("#timings")).to_contain_text("Upload to S3")
    expect(page.locator("#timings")).to_contain_text("flights-mixed.csv")
    expect(page.locator("[data-stat='received'] .stat-value")).to_have_text(
        str(MIXED_ROWS + BROKEN_ROWS)
    )
    dashboard.assert_nothing_ran()


def test_an_uploaded_file_with_a_wrong_header_fails_with_its_code_and_line(
    dashboard: Dashboard, api_token: str, local_runtime: LocalRuntime, tmp_path: Path
):
    upload = tmp_path / "wrong-header.csv"
    upload.write_bytes(WRONG_HEADER)
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open("#/ingest")
    page.get_by_label("Upload a CSV or NDJSON file").check()
    page.get_by_label("File", exact=True).set_input_files(upload)
    # A small file goes in the request body (refused at once) unless sent through S3.
    page.get_by_label("Upload to S3 even when the file is small").check()
    expect(page.locator("#ingest-file-summary")).to_contain_text("uploaded straight to S3")
    page.get_by_role("button", name="Send batch").click()
    expect(page.locator("[data-upload-state='done']")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Upload of wrong-header.csv")).to_have_attribute(
        "aria-valuenow", "100"
    )
    page.get_by_role("link", name="Follow this batch").click()

    assert wait_for_terminal(dashboard, local_runtime) == "FAILED"
    error = page.locator(".batch-error")
    expect(error).to_have_attribute("data-error-code", "header_mismatch")
    expect(error.locator("[data-field='code']")).to_have_text("header_mismatch")
    expect(error.locator("[data-field='line']")).to_have_text("1")
    expect(error).to_contain_text("unexpected ['dia']")
    expect(page.locator("[data-split-progress]")).to_contain_text("not split into chunks")
    expect(page.locator("svg [data-state='Split']")).to_have_attribute("data-status", "CAUGHT")
    dashboard.screenshot("batch-header-mismatch")
    dashboard.assert_nothing_ran()


def test_an_interrupted_upload_is_resumed_into_the_same_batch(
    dashboard: Dashboard, api_token: str, local_runtime: LocalRuntime, tmp_path: Path
):
    upload = tmp_path / "flights-resumed.csv"
    upload.write_bytes(mixed_csv(MIXED_ROWS))
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open("#/ingest")
    page.get_by_label("Upload a CSV or NDJSON file").check()
    page.get_by_label("File", exact=True).set_input_files(upload)
    page.get_by_label("Upload to S3 even when the file is small").check()
    dashboard.throttle_uploads(4_000)
    page.get_by_role("button", name="Send batch").click()
    bar = page.get_by_role("progressbar", name="Upload of flights-resumed.csv")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-9][0-9]?$"))
    card = page.locator("[data-upload-batch]")
    batch_id = card.get_attribute("data-upload-batch")
    key = page.get_by_label("Idempotency-Key (optional)").input_value()
    assert key.startswith("upload-"), key
    page.get_by_role("button", name="Cancel upload").click()

    stopped = page.locator("[data-upload-failed]")
    expect(stopped).to_contain_text("The upload was cancelled")
    expect(stopped).to_contain_text(key)
    dashboard.screenshot("ingest-upload-cancelled")
    dashboard.throttle_uploads(-1)
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("[data-upload-state='done']")).to_be_visible()
    expect(card).to_have_attribute("data-upload-batch", str(batch_id))
    page.get_by_role("link", name="Follow this batch").click()
    expect(page).to_have_url(re.compile(f"#/batches/{batch_id}$"))
    assert wait_for_terminal(dashboard, local_runtime) == "COMPLETED_WITH_REJECTS"
    expect(page.locator("[data-stat='received'] .stat-value")).to_have_text(
        str(MIXED_ROWS + BROKEN_ROWS)
    )
    dashboard.assert_nothing_ran()


def test_a_gzip_file_is_uploaded_as_gzip_and_processed(
    dashboard: Dashboard,
    api_token: str,
    client: ApiClient,
    local_runtime: LocalRuntime,
    tmp_path: Path,
):
    upload = tmp_path / "flights-mixed.csv.gz"
    upload.write_bytes(gzip.compress(mixed_csv(MIXED_ROWS)))
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open("#/ingest")
    page.get_by_label("Upload a CSV or NDJSON file").check()
    page.get_by_label("File", exact=True).set_input_files(upload)
    expect(page.locator("#ingest-file-summary")).to_contain_text("CSV, gzip")
    page.get_by_label("Upload to S3 even when the file is small").check()
    page.get_by_role("button", name="Send batch").click()
    expect(page.locator("[data-upload-state='done']")).to_be_visible()
    page.get_by_role("link", name="Follow this batch").click()
    assert wait_for_terminal(dashboard, local_runtime) == "COMPLETED_WITH_REJECTS"
    expect(page.locator("[data-stat='processed'] .stat-value")).to_have_text(str(MIXED_ROWS))
    expect(page.locator("#timings")).to_contain_text("text/csv · gzip")
    batch = client.get(f"/batches/{page.url.rsplit('/', 1)[-1]}")
    assert (batch["content_encoding"], batch["size_bytes"]) == ("gzip", upload.stat().st_size)
    dashboard.assert_nothing_ran()


def test_a_failed_chunk_shows_in_the_chunk_table_and_its_detail(
    dashboard: Dashboard, api_token: str, failed_chunk_batch: dict[str, Any]
):
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/batches/{failed_chunk_batch['batch_id']}")
    expect(page.locator("[data-batch-status]")).to_have_attribute("data-batch-status", "FAILED")

    error = page.locator(".batch-error")
    expect(error).to_have_attribute("data-error-chunk", str(FAILING_CHUNK))
    expect(error).to_have_attribute("data-error-type", "ChunkObjectMissingError")
    expect(page.locator("[data-chunk-progress]")).to_have_attribute("data-chunk-progress", "6/6")
    expect(page.locator("[data-chunks='failed'] strong")).to_have_text("1")
    expect(page.locator("[data-chunks='stored'] strong")).to_have_text("5")
    expect(page.locator("#stages [data-stage='validate'] [data-failed-attempts]")).to_have_text("1")
    expect(page.locator("svg [data-state='Validate']")).to_have_attribute("data-status", "CAUGHT")
    expect(page.locator("[data-map-run-of='ProcessChunks'] .map-run-text")).to_contain_text(
        "1 failed"
    )

    page.get_by_label("Show", exact=True).select_option("failed")
    rows = page.locator("[data-region='chunks'] tbody tr[data-chunk-row]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-chunk-row", str(FAILING_CHUNK))
    expect(rows.first).to_contain_text("failed in validate")
    rows.first.get_by_role("button", name=f"Chunk {FAILING_CHUNK}").click()

    detail = page.locator(f"[data-chunk-detail='{FAILING_CHUNK}']")
    expect(detail).to_have_attribute("data-chunk-status", "failed")
    expect(detail.locator("[data-chunk-error]")).to_contain_text("ChunkObjectMissingError")
    expect(detail.locator("[data-chunk-error]")).to_contain_text("does not exist")
    expect(detail).to_contain_text("5,002 to 6,001")
    expect(detail.locator("[data-chunk-stage='validate'] [data-failed-attempts]")).to_have_text("1")
    expect(detail.locator("[data-chunk-stage='store']")).to_contain_text("not reached")
    expect(detail).to_contain_text("No processed objects written")
    dashboard.screenshot("batch-failed-chunk")

    # A stored chunk's detail lists the date partitions it wrote.
    page.get_by_label("Show", exact=True).select_option("")
    expect(rows).to_have_count(FAILING_ROWS // CHUNK_ROWS)
    page.locator("[data-chunk='0']").click()
    stored = page.locator("[data-chunk-detail='0']")
    expect(stored).to_have_attribute("data-chunk-status", "stored")
    expect(stored.locator(".chunk-partitions-summary")).to_contain_text("1,000 records in")
    expect(stored.locator("[data-partition='2013-01-01']")).to_have_count(1)
    # The error's chunk opens that chunk.
    error.get_by_role("button", name=f"Chunk {FAILING_CHUNK}").click()
    expect(detail).to_be_visible()
    # The other chunks' records were stored, and show.
    expect(
        page.locator("[data-region='processed'] tbody tr[data-record-label]").first
    ).to_be_visible()
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- a second dataset


def test_a_readings_batch_shows_the_columns_its_dataset_declares(
    dashboard: Dashboard, api_token: str, client: ApiClient, local_runtime: LocalRuntime
):
    accepted = client.post_csv(readings_csv("S1", "S2", "S9").encode(), dataset="readings")
    batch = finished(client, local_runtime, accepted["batch_id"])
    assert batch["counts"] == {"received": 3, "processed": 3, "rejected": 0, "failed": 0}
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/batches/{batch['batch_id']}")
    expect(page.locator("[data-batch-status]")).to_have_attribute("data-batch-status", "SUCCEEDED")

    processed = page.locator("[data-region='processed']")
    expect(processed.locator("thead th")).to_have_text(READING_COLUMNS)
    rows = processed.locator("tbody tr[data-record-label]")
    expect(rows).to_have_count(3)
    # The first column names each reading by its sensor, as its lineage button.
    expect(rows.locator("td:first-child button")).to_have_text(["▸S1", "▸S2", "▸S9"])
    s1 = processed.locator("tr[data-record-label='S1']")
    expect(s1.locator("td[data-label='Taken']")).to_have_text("2024-05-01 10:00 UTC")
    expect(s1.locator("td[data-label='Temperature'] .value-detail")).to_have_text("68")
    expect(s1.locator("td[data-label='Site']")).to_have_text("Roof")
    expect(s1.locator("td[data-label='Gaps']")).to_have_text("none")
    s9 = processed.locator("tr[data-record-label='S9']")
    expect(s9.locator("td[data-label='Site'] [data-missing='site']")).to_have_text("unknown site")
    expect(s9.locator("td[data-label='Gaps'] .chip")).to_have_text(["site"])
    # Nothing of the flights' table.
    for flights_only in ("Flight", "Carrier", "Route", "Delay", "unknown airport"):
        expect(processed).not_to_contain_text(flights_only)
    expect(processed).to_contain_text("Select a reading to see its lineage.")
    s9.get_by_role("button", name="S9").click()
    expect(processed.locator("[data-lineage-of='processed:4'] .lineage-title")).to_have_text(
        "Lineage of S9"
    )
    dashboard.screenshot("batch-readings")

    # The record's own page shows the stored reading the same way, above every field.
    s9.locator("a[data-record-link]").click()
    stored = page.locator("#record-stored")
    expect(stored.locator(".panel-title")).to_have_text("The stored reading")
    expect(stored.locator(".record-display")).to_contain_text("unknown site")
    expect(stored.locator("[data-field='sensor'] dd")).to_have_text("S9")
    dashboard.screenshot("record-readings")
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
    expect(processed.locator("tr[data-record-label='UA1545-2013-01-01-EWR']")).to_be_visible()
    processed.get_by_role("button", name=re.compile("UA1545")).click()
    expect(processed.locator("[data-lineage-of='processed:1']")).to_be_visible()
    rejected.get_by_role("button", name=re.compile("Line 2")).click()
    expect(rejected.locator("[data-lineage-of='rejected:2']")).to_contain_text("not reached")

    dashboard.open(f"#/failures?batch={hostile_batch['batch_id']}")
    expect(
        page.locator("[data-region='inbox']").get_by_text(XSS_FIELD, exact=True).first
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
    dashboard.open(f"#/failures?batch={posted_batch['batch_id']}")
    rules = page.get_by_label("Rule", exact=True)
    expect(rules.locator("option", has_text="unknown_carrier")).to_have_count(1)
    rows = page.locator("[data-region='inbox'] tbody tr[data-item-key]")
    expect(rows.first).to_be_visible()
    everything = rows.count()

    rules.select_option(value="unknown_carrier")
    expect(page).to_have_url(re.compile(r"rule=unknown_carrier"))
    expect(rows.first).to_have_attribute("data-item-rule", "unknown_carrier")
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
    failed_chunk_batch: dict[str, Any],
    tmp_path: Path,
):
    board = open_dashboard(browser, api, viewport)
    page = board.page
    try:
        board.sign_in(api_token)
        views = {
            "overview": ("#/", "#newest tr[data-batch]"),
            "ingest": ("#/ingest", "#ingest-json"),
            "failures": ("#/failures?state=", "[data-region='inbox'] tbody tr"),
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

        # A batch's chunks, with one chunk's detail open.
        board.open(f"#/batches/{failed_chunk_batch['batch_id']}")
        page.locator(f"[data-chunk='{FAILING_CHUNK}']").click()
        expect(page.locator(f"[data-chunk-detail='{FAILING_CHUNK}']")).to_be_visible()
        board.screenshot("batch-chunks")
        assert board.horizontal_overflow() <= 0, f"the chunk detail is wider than a {viewport}"

        # An upload under way, slowed down so that its progress shows.
        upload = tmp_path / f"flights-{viewport}.csv"
        upload.write_bytes(mixed_csv(MIXED_ROWS))
        board.open("#/ingest")
        page.get_by_label("Upload a CSV or NDJSON file").check()
        page.get_by_label("File", exact=True).set_input_files(upload)
        page.get_by_label("Upload to S3 even when the file is small").check()
        board.throttle_uploads(4_000)
        page.get_by_role("button", name="Send batch").click()
        expect(page.get_by_role("progressbar", name=f"Upload of {upload.name}")).to_have_attribute(
            "aria-valuenow", re.compile(r"^[1-9][0-9]?$")
        )
        board.screenshot("ingest-uploading")
        assert board.horizontal_overflow() <= 0, f"an upload is wider than a {viewport} screen"
        expect(page.locator("[data-upload-state='done']")).to_be_visible(timeout=60_000)
        board.throttle_uploads(-1)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to Sluice")).to_be_visible()
        board.screenshot("signin")
        assert board.horizontal_overflow() <= 0, f"sign-in is wider than a {viewport} screen"
        board.assert_nothing_ran()
    finally:
        page.context.close()


# --------------------------------------------------------------------------- a large file


def test_a_file_over_the_body_limit_is_uploaded_with_progress_and_split_into_chunks(
    dashboard: Dashboard, api_token: str, client: ApiClient, tmp_path: Path
):
    """Last in the module: its batch of ~56 chunks keeps the runtime busy for a few minutes."""
    body, rows = csv_just_over(BODY_LIMIT)
    upload = tmp_path / "flights-5mb.csv"
    upload.write_bytes(body)
    chunks = -(-rows // CHUNK_ROWS)
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open("#/ingest")
    page.get_by_label("Upload a CSV or NDJSON file").check()
    page.get_by_label("File", exact=True).set_input_files(upload)
    expect(page.locator("#ingest-file-summary")).to_contain_text(
        "over the 5,000,000-byte body limit"
    )
    # About three seconds at this rate: long enough to watch the bar move.
    dashboard.throttle_uploads(1_800_000)
    page.get_by_role("button", name="Send batch").click()

    bar = page.get_by_role("progressbar", name="Upload of flights-5mb.csv")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-9][0-9]?$"))
    expect(page.locator(".upload-rate")).to_contain_text("/s")
    expect(page.locator(".upload-bytes")).to_contain_text("of 5.1 MB sent")
    dashboard.screenshot("ingest-upload-large")
    expect(page.locator("[data-upload-state='done']")).to_be_visible(timeout=120_000)
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(".upload-percent")).to_have_text("100 %")
    expect(page.locator(".upload-bytes")).to_have_text("5.1 MB of 5.1 MB sent")
    dashboard.screenshot("ingest-uploaded")
    dashboard.throttle_uploads(-1)

    page.get_by_role("link", name="Follow this batch").click()
    expect(page).to_have_url(re.compile(r"#/batches/key-[0-9a-f]+$"))
    batch_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("[data-stat='chunks'] .stat-value")).to_have_text(
        str(chunks), timeout=120_000
    )
    expect(page.locator("[data-stat='received'] .stat-value")).to_have_text(f"{rows:,}")
    progress = page.locator("[data-chunk-progress]")
    expect(progress).to_contain_text(f"of {chunks} chunks done")
    expect(page.locator("[data-region='chunks'] tbody tr[data-chunk-row]").first).to_be_visible(
        timeout=60_000
    )
    expect(page.locator("[data-map-run-of='ProcessChunks'] .map-run-text")).to_contain_text(
        f"/{chunks} items succeeded", timeout=60_000
    )
    dashboard.screenshot("batch-large")

    batch = client.get(f"/batches/{batch_id}")
    assert (batch["source"], batch["filename"], batch["size_bytes"]) == (
        "upload",
        "flights-5mb.csv",
        len(body),
    )
    assert batch["chunks"]["total"] == chunks
    dashboard.assert_nothing_ran()
