"""The failure inbox, retries, fix-and-replay and record lineage, in a real browser.

What an operator does about failures, through the dashboard only: pick a batch's failed
chunk in the inbox and retry it until the batch succeeds with exact counts; edit two
rejects in place (the form refuses an empty required field itself, then shows the API's
reasons next to the fields) and replay them into a child batch linked to its parent
both ways; open one record's whole story from a records table, a reject and the inbox.
The API is only used to set batches up and to check what the browser claims.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHUNK_ROWS, FAILING_CHUNK, FAILING_ROWS
from tests.e2e.dashboard_pages import (
    BATCH_DEADLINE_S,
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
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

    from tests.e2e.conftest import LocalRuntime

pytestmark = pytest.mark.e2e
expect.set_options(timeout=UI_TIMEOUT_MS)

# Line 2: not an airport code, and a field no flight has (holding markup).
BAD_ORIGIN = {**UA1545, "flight": 1547, "origin": "E1R", XSS_FIELD: XSS}
# Line 3: no carrier at all.
NO_CARRIER = {**UA1545, "flight": 1548, "carrier": ""}
REAL_ROWS = 20


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rejects_batch(client: ApiClient, local_runtime: LocalRuntime) -> dict[str, Any]:
    """One good flight and two rejects (a bad origin with a markup field, an empty carrier)."""
    accepted = client.post_json({"dataset": "flights", "records": [UA1545, BAD_ORIGIN, NO_CARRIER]})
    batch = finished(client, local_runtime, accepted["batch_id"])
    assert batch["counts"] == {"received": 3, "processed": 1, "rejected": 2, "failed": 0}
    return batch


@pytest.fixture(scope="module")
def mixed_batch(client: ApiClient, local_runtime: LocalRuntime) -> dict[str, Any]:
    """Real flights and broken rows as one CSV, finished with rejects."""
    batch = finished(client, local_runtime, client.post_csv(mixed_csv(REAL_ROWS))["batch_id"])
    assert batch["status"] == "COMPLETED_WITH_REJECTS", batch
    return batch


def inbox_rows(board: Dashboard) -> Locator:
    return board.page.locator("[data-region='inbox'] tbody tr[data-item-key]")


def edit_field(form: Locator, name: str) -> Locator:
    """One field of a reject's edit form, by the field's name (shown as text, never as markup)."""
    return form.locator(".edit-field").filter(
        has=form.page.locator(".edit-label", has_text=re.compile(f"^{re.escape(name)}( \\*)?$"))
    )


def wait_for_status(board: Dashboard, status: str) -> None:
    expect(board.page.locator("[data-batch-status]")).to_have_attribute(
        "data-batch-status", status, timeout=BATCH_DEADLINE_S * 1000
    )


# --------------------------------------------------------------------------- retry


def test_failed_chunks_chosen_in_the_inbox_are_retried_until_the_batch_succeeds(
    dashboard: Dashboard,
    api_token: str,
    client: ApiClient,
    local_runtime: LocalRuntime,
    failed_chunk_batch: dict[str, Any],
):
    batch_id = failed_chunk_batch["batch_id"]
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/failures?batch={batch_id}")

    chunk_row = inbox_rows(dashboard).and_(
        page.locator(f"[data-kind='chunk'][data-chunk='{FAILING_CHUNK}']")
    )
    expect(chunk_row).to_have_attribute("data-state", "open")
    expect(chunk_row).to_contain_text("ChunkObjectMissingError")
    # The batch filter came from the route: every row listed is this batch's.
    expect(page.get_by_label("Batch", exact=True)).to_have_value(batch_id)
    for index in range(inbox_rows(dashboard).count()):
        expect(inbox_rows(dashboard).nth(index)).to_have_attribute("data-batch", batch_id)

    retry = page.get_by_role("button", name=re.compile(r"^Retry chunks"))
    expect(retry).to_be_disabled()
    chunk_row.get_by_role("checkbox").check()
    expect(retry).to_have_text("Retry chunks (1)")
    expect(page.locator("#selection-count")).to_have_text("1 failure selected")
    dashboard.screenshot("inbox-retry-selected")
    retry.click()

    outcome = page.locator(f"[data-retried='{batch_id}']")
    expect(outcome).to_have_attribute("data-run", "1")
    expect(outcome).to_contain_text(f"chunk {FAILING_CHUNK}")
    expect(outcome).to_contain_text(f"{batch_id}-r1")
    batch = finished(client, local_runtime, batch_id)
    assert batch["status"] == "SUCCEEDED", batch
    received = FAILING_ROWS
    assert batch["counts"] == {
        "received": received,
        "processed": received,
        "rejected": 0,
        "failed": 0,
    }
    assert (batch["chunks"]["stored"], batch["chunks"]["failed"]) == (FAILING_ROWS // CHUNK_ROWS, 0)

    # The inbox says what became of the chunk, as the API keeps it (a reload shows the same).
    page.get_by_label("State", exact=True).select_option("")
    expect(chunk_row).to_have_attribute("data-state", "retried")
    page.reload()
    expect(page.get_by_label("State", exact=True)).to_have_value("")
    expect(chunk_row).to_have_attribute("data-state", "retried")

    # The batch keeps both runs; nothing is left to retry.
    dashboard.open(f"#/batches/{batch_id}")
    wait_for_status(dashboard, "SUCCEEDED")
    runs = page.locator("[data-region='runs'] tr[data-run]")
    expect(runs).to_have_count(2)
    first, again = (
        runs.and_(page.locator("[data-run='0']")),
        runs.and_(page.locator("[data-run='1']")),
    )
    expect(first).to_have_attribute("data-run-kind", "initial")
    expect(first).to_contain_text("Failed")
    expect(again).to_have_attribute("data-run-kind", "retry")
    expect(again).to_contain_text(f"{batch_id}-r1")
    expect(again.locator("[data-run-chunks]")).to_have_attribute(
        "data-run-chunks", str(FAILING_CHUNK)
    )
    expect(again).to_contain_text("Succeeded")
    expect(page.locator("[data-stat='processed'] .stat-value")).to_have_text(f"{received:,}")
    expect(page.locator("[data-stat='failed'] .stat-value")).to_have_text("0")
    expect(page.locator("[data-action='retry-batch']")).to_have_count(0)
    dashboard.screenshot("batch-runs")
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- fix and replay


def test_rejects_edited_in_the_inbox_are_replayed_into_a_child_linked_both_ways(
    dashboard: Dashboard,
    api_token: str,
    client: ApiClient,
    local_runtime: LocalRuntime,
    rejects_batch: dict[str, Any],
):
    parent = rejects_batch["batch_id"]
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/failures?batch={parent}")

    rejects = inbox_rows(dashboard).and_(page.locator("[data-kind='rejects']"))
    expect(rejects.and_(page.locator("[data-item-rule='invalid_airport_code']"))).to_have_count(1)
    expect(rejects.and_(page.locator("[data-item-rule='required']"))).to_have_count(1)
    for index in range(rejects.count()):
        rejects.nth(index).get_by_role("checkbox").check()
    page.get_by_role("button", name=re.compile(r"^Edit and replay \(")).click()

    editor = page.locator("[data-region='replay-editor']")
    forms = editor.locator("fieldset[data-edit-line]")
    expect(forms).to_have_count(2)
    bad_origin = editor.locator("fieldset[data-edit-line='2']")
    no_carrier = editor.locator("fieldset[data-edit-line='3']")
    # Each field shows the reasons that name it, next to it; markup stays text.
    origin = edit_field(bad_origin, "origin")
    expect(origin.locator(".edit-reason[data-rule='invalid_airport_code']")).to_contain_text(
        "is not a three-letter code"
    )
    expect(origin.get_by_role("textbox")).to_have_value("E1R")
    hostile = edit_field(bad_origin, XSS_FIELD)
    expect(hostile.locator(".edit-reason[data-rule='unknown_field']")).to_be_visible()
    expect(hostile.get_by_role("checkbox", name="Remove this field")).to_be_checked()
    carrier = edit_field(no_carrier, "carrier")
    expect(carrier.locator(".edit-reason[data-rule='required']")).to_be_visible()
    replay = editor.get_by_role("button", name="Replay 2 records")

    # An empty required field is caught in the browser: nothing is sent.
    origin.get_by_role("textbox").fill("EWR")
    replay.click()
    expect(carrier.locator(".edit-reason[data-source='client']")).to_contain_text(
        "carrier is required"
    )
    expect(carrier.get_by_role("textbox")).to_be_focused()
    expect(editor.locator(".replay-status")).to_contain_text("Nothing was sent")
    assert client.get(f"/batches/{parent}").get("replays") == []

    # A carrier no airline has: the API refuses it, and says so next to the field.
    carrier.get_by_role("textbox").fill("ZZ")
    replay.click()
    expect(editor.locator("[data-still-invalid]")).to_have_attribute("data-still-invalid", "1")
    expect(carrier.locator(".edit-reason[data-source='server']")).to_have_attribute(
        "data-rule", "unknown_carrier"
    )
    expect(carrier.get_by_role("textbox")).to_have_attribute("aria-invalid", "true")
    expect(origin.locator(".edit-reason")).to_have_count(0)
    assert client.get(f"/batches/{parent}").get("replays") == []
    dashboard.screenshot("inbox-replay-refused")

    carrier.get_by_role("textbox").fill("UA")
    replay.click()
    done = editor.locator("[data-replay-child]")
    expect(done).to_contain_text("Replayed 2 records into batch")
    child = str(done.get_attribute("data-replay-child"))
    expect(forms.and_(page.locator(".is-replayed"))).to_have_count(2)
    dashboard.screenshot("inbox-replayed")
    replayed = finished(client, local_runtime, child)
    assert replayed["status"] == "SUCCEEDED", replayed
    assert replayed["counts"] == {"received": 2, "processed": 2, "rejected": 0, "failed": 0}

    # The inbox shows the rejects replayed once the API says so.
    page.get_by_label("State", exact=True).select_option("replayed")
    expect(rejects.and_(page.locator("[data-state='replayed']"))).not_to_have_count(0)

    # Parent → child on the parent's page, and child → parent on the child's.
    dashboard.open(f"#/batches/{parent}")
    expect(page.locator(f"[data-replayed-into='{child}']")).to_contain_text("2 records")
    expect(
        page.locator(f"[data-region='rejected'] tr[data-line='2'] [data-replayed-to='{child}']")
    ).to_be_visible()
    dashboard.screenshot("batch-replay-parent")
    page.locator(f"[data-replayed-into='{child}'] a").click()
    expect(page).to_have_url(re.compile(f"#/batches/{child}$"))
    wait_for_status(dashboard, "SUCCEEDED")
    expect(page.locator(f"[data-replay-of='{parent}']")).to_contain_text("2 edited records")
    dashboard.screenshot("batch-replay-child")

    # The child's first record came from the parent's line 2, and that line knows it.
    processed = page.locator("[data-region='processed'] tbody tr[data-line='1']")
    expect(processed).to_contain_text("UA1547")
    processed.locator("a[data-record-link]").click()
    expect(page).to_have_url(re.compile(f"#/batches/{child}/records/1$"))
    expect(page.locator("[data-record-state]")).to_have_attribute("data-record-state", "processed")
    origin_link = page.locator(f"[data-replayed-from='{parent}:2']")
    expect(origin_link).to_be_visible()
    expect(page.locator("#record-raw [data-field='origin'] dd")).to_have_text("EWR")
    origin_link.locator("a[data-record-link]").click()
    expect(page).to_have_url(re.compile(f"#/batches/{parent}/records/2$"))
    expect(page.locator("[data-record-state]")).to_have_attribute("data-record-state", "rejected")
    expect(page.locator(f"[data-replayed-to='{child}:1']")).to_be_visible()
    # The parent keeps the values as they were received.
    expect(page.locator("#record-raw [data-field='origin'] dd")).to_have_text("E1R")
    dashboard.screenshot("record-replayed-parent")

    assert page.locator("main img, main [onerror], main [onload]").count() == 0
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- lineage


def test_a_records_lineage_opens_from_a_records_table_a_reject_and_the_inbox(
    dashboard: Dashboard, api_token: str, client: ApiClient, mixed_batch: dict[str, Any]
):
    batch_id = mixed_batch["batch_id"]
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/batches/{batch_id}")

    # A stored record: from the processed table to where it is, and how it got there.
    page.locator("[data-region='processed'] tbody tr[data-line='2'] a[data-record-link]").click()
    expect(page).to_have_url(re.compile(f"#/batches/{batch_id}/records/2$"))
    story = client.get(f"/batches/{batch_id}/records/2")
    expect(page.locator("[data-record-state]")).to_have_attribute("data-record-state", "processed")
    stored = page.locator("#record-outcome [data-outcome='stored']")
    expect(stored).to_contain_text(f"s3://{story['stored']['bucket']}/{story['stored']['key']}")
    expect(stored).to_contain_text(f"position {story['stored']['position']}")
    expect(page.locator("#record-source")).to_contain_text(mixed_batch["raw_key"])
    expect(page.locator("#record-source")).to_contain_text("a request body")
    expect(page.locator("#record-run")).to_contain_text(mixed_batch["execution_arn"])
    expect(page.locator("#record-stages [data-stamp] time")).to_have_count(4)
    expect(page.locator("#record-raw [data-field='carrier'] dd")).to_have_text(
        str(story["raw"]["carrier"])
    )
    expect(page.locator("#record-stored")).to_contain_text(str(story["record"]["flight_id"]))
    dashboard.screenshot("record-stored")

    # A reject: from the batch's rejected table to its reasons.
    page.get_by_role("link", name="← Batch").click()
    # 2013-02-30: the day is the field refused.
    invalid_date = page.locator(
        "[data-region='rejected'] tbody tr", has=page.locator("[data-rule='invalid_date']")
    ).filter(has_text="2013-02-30 is not a date")
    line = str(invalid_date.get_attribute("data-line"))
    invalid_date.locator("a[data-record-link]").click()
    expect(page).to_have_url(re.compile(f"#/batches/{batch_id}/records/{line}$"))
    expect(page.locator("[data-record-state]")).to_have_attribute("data-record-state", "rejected")
    outcome = page.locator("#record-outcome [data-outcome='rejected']")
    expect(outcome.locator("[data-rule='invalid_date']")).to_contain_text("is not a date")
    expect(page.locator("#record-stages [data-stamp='stored_at']")).to_contain_text("not reached")
    expect(page.locator("#record-raw .value-pair.is-named")).not_to_have_count(0)
    dashboard.screenshot("record-rejected")

    # And from the inbox: a rule's group links each of its lines.
    dashboard.open(f"#/failures?batch={batch_id}&rule=invalid_date")
    groups = inbox_rows(dashboard)
    expect(groups.first).to_be_visible()
    for index in range(groups.count()):
        expect(groups.nth(index)).to_have_attribute("data-item-rule", "invalid_date")
    group = groups.and_(page.locator("[data-item-field='day']"))
    expect(group).to_have_count(1)
    group.locator(f"a[data-record-link='{batch_id}:{line}']").click()
    expect(page).to_have_url(re.compile(f"#/batches/{batch_id}/records/{line}$"))
    expect(page.locator("[data-record-state]")).to_have_attribute("data-record-state", "rejected")
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- handled, discarded


def test_failures_marked_handled_keep_their_note_and_a_dead_letter_is_discarded(
    dashboard: Dashboard,
    api_token: str,
    client: ApiClient,
    mixed_batch: dict[str, Any],
    failed_chunk_batch: dict[str, Any],
):
    page = dashboard.page
    dashboard.sign_in(api_token)
    dashboard.open(f"#/failures?batch={mixed_batch['batch_id']}&rule=unknown_carrier")
    group = inbox_rows(dashboard).and_(page.locator("[data-item-rule='unknown_carrier']"))
    expect(group).to_have_attribute("data-state", "open")
    group.get_by_role("checkbox").check()
    page.get_by_role("button", name="Mark handled (1)").click()

    # A note is required: an empty one is refused in the browser.
    note = page.locator("#action-note")
    expect(note).to_be_focused()
    confirm = page.locator("[data-action='confirm']")
    confirm.click()
    expect(note).to_have_attribute("aria-invalid", "true")
    note.fill("ZZ is the vendor's test carrier: nothing to fix")
    confirm.click()
    expect(page.locator("[data-handled]")).to_have_attribute("data-handled", "1")
    # No longer open; among the handled, after a reload too.
    expect(group).to_have_count(0)
    page.get_by_label("State", exact=True).select_option("handled")
    expect(group).to_have_attribute("data-state", "handled")
    page.reload()
    expect(group).to_have_attribute("data-state", "handled")
    dashboard.screenshot("inbox-handled")
    # Each of the group's rejects keeps the note and who wrote it: the batch's page shows it.
    link = str(group.locator("a[data-record-link]").first.get_attribute("data-record-link"))
    line = link.rsplit(":", 1)[-1]
    dashboard.open(f"#/batches/{mixed_batch['batch_id']}")
    handled = page.locator(f"[data-region='rejected'] tr[data-line='{line}'] [data-handled-by]")
    expect(handled).to_contain_text("“ZZ is the vendor's test carrier: nothing to fix”")

    # The failed batch's dead letter, discarded with a note.
    dashboard.open(f"#/failures?batch={failed_chunk_batch['batch_id']}&state=")
    letter = inbox_rows(dashboard).and_(page.locator("[data-kind='dead_letter']"))
    expect(letter).to_have_count(1)
    message_id = str(letter.get_attribute("data-item-key")).removeprefix("dead_letter:")
    letter.get_by_role("checkbox").check()
    page.get_by_role("button", name="Discard (1)").click()
    page.locator("#action-note").fill("its batch was retried and succeeded")
    page.locator("[data-action='confirm']").click()
    outcome = page.locator(f"[data-discard-results] [data-message='{message_id}']")
    expect(outcome).to_have_attribute("data-outcome", "deleted")
    expect(letter).to_have_count(0)
    listed = client.get("/dead-letters")["messages"]
    assert message_id not in [m["message_id"] for m in listed]
    dashboard.assert_nothing_ran()


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_inbox_editor_and_lineage_fit_at_laptop_and_phone_width(
    viewport: str,
    browser: Browser,
    api: str,
    api_token: str,
    mixed_batch: dict[str, Any],
    failed_chunk_batch: dict[str, Any],
):
    board = open_dashboard(browser, api, viewport)
    page = board.page
    try:
        board.sign_in(api_token)
        board.open("#/failures?state=")
        expect(inbox_rows(board).first).to_be_visible()
        board.screenshot("inbox")
        assert board.horizontal_overflow() <= 0, f"the inbox is wider than a {viewport} screen"

        board.open(f"#/failures?batch={mixed_batch['batch_id']}")
        first = inbox_rows(board).and_(page.locator("[data-kind='rejects']")).first
        first.get_by_role("button", name="Edit and replay →").click()
        expect(
            page.locator("[data-region='replay-editor'] fieldset[data-edit-line]").first
        ).to_be_visible()
        board.screenshot("inbox-editor")
        assert board.horizontal_overflow() <= 0, f"the editor is wider than a {viewport} screen"

        board.open(f"#/batches/{mixed_batch['batch_id']}/records/2")
        expect(page.locator("[data-record-state]")).to_have_attribute(
            "data-record-state", "processed"
        )
        board.screenshot("record")
        assert board.horizontal_overflow() <= 0, f"a record's lineage is wider than a {viewport}"

        board.open(f"#/batches/{failed_chunk_batch['batch_id']}")
        expect(page.locator("[data-region='runs'] tr[data-run]").first).to_be_visible()
        board.screenshot("batch-with-runs")
        assert board.horizontal_overflow() <= 0, f"a batch's runs are wider than a {viewport}"
        board.assert_nothing_ran()
    finally:
        page.context.close()
