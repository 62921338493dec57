"""The whole pipeline on the local runtime, driven over HTTP and checked in local AWS.

Each test sees what a user sees: the API's answers, then the tables, buckets and
executions behind them, read with boto3 from the devserver's moto.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from shared.models import TERMINAL_STATUSES
from shared.settings import Settings
from tests.e2e.conftest import API_TOKEN, json_of

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalAws, LocalRuntime

pytestmark = pytest.mark.e2e

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BATCH_DEADLINE_S = 90.0
POLL_INTERVAL_S = 0.5
HTTP_TIMEOUT_S = 30
MAX_BODY_BYTES: int = Settings.model_fields["max_body_bytes"].default
BATCH_TASK_STATES = ("Split", "Finalize")
CHUNK_TASK_STATES = ("Validate", "Transform", "Enrich", "Store")
LINEAGE_STAMPS = ("validated_at", "transformed_at", "enriched_at", "stored_at")


# --------------------------------------------------------------------------- helpers


def read_csv(name: str) -> tuple[str, list[dict[str, str]]]:
    """Return a data file's header line and its rows."""
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    header = text.splitlines()[0]
    return header, list(csv.DictReader(io.StringIO(text, newline="")))


def csv_body(header: str, rows: list[dict[str, str]]) -> bytes:
    """Return one CSV body: the header once, then the rows in the header's column order."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=header.split(","), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def flight_date(row: dict[str, str]) -> str:
    """The local scheduled date of a raw row, as ``YYYY-MM-DD``."""
    return f"{int(row['year']):04d}-{int(row['month']):02d}-{int(row['day']):02d}"


def post_csv(
    api: str, body: bytes, *, dataset: str = "flights", headers: dict[str, str] | None = None
) -> requests.Response:
    return requests.post(
        f"{api}/batches",
        params={"dataset": dataset},
        data=body,
        headers={"Content-Type": "text/csv", **AUTH, **(headers or {})},
        timeout=HTTP_TIMEOUT_S,
    )


def get_batch(api: str, batch_id: str) -> dict[str, Any]:
    response = requests.get(f"{api}/batches/{batch_id}", headers=AUTH, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, f"GET /batches/{batch_id}: {response.text}"
    batch: dict[str, Any] = json_of(response)
    return batch


def wait_until_finished(runtime: LocalRuntime, batch_id: str) -> dict[str, Any]:
    """Poll the batch until its status is terminal; fail with its last state after the deadline."""
    deadline = time.monotonic() + BATCH_DEADLINE_S
    batch = get_batch(runtime.api, batch_id)
    while batch["status"] not in TERMINAL_STATUSES:
        if time.monotonic() > deadline:
            pytest.fail(
                f"batch {batch_id} did not finish within {BATCH_DEADLINE_S:.0f} s; last seen "
                f"{json.dumps(batch, indent=1)}\ndevserver log {runtime.log_path}:\n"
                f"{runtime.log_tail()}"
            )
        time.sleep(POLL_INTERVAL_S)
        batch = get_batch(runtime.api, batch_id)
    return batch


def list_all_batches(api: str) -> list[dict[str, Any]]:
    """Every batch the API lists, following ``next`` through all pages."""
    batches: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 200}
    for _ in range(1_000):
        response = requests.get(
            f"{api}/batches", params=params, headers=AUTH, timeout=HTTP_TIMEOUT_S
        )
        assert response.status_code == 200, f"GET /batches: {response.text}"
        page = json_of(response)
        batches.extend(page["batches"])
        if not page["next"]:
            return batches
        params["next"] = page["next"]
    pytest.fail("GET /batches kept answering a next token after 1,000 pages")


def get_records(api: str, batch_id: str, status: str, limit: int) -> dict[str, Any]:
    params: dict[str, str | int] = {"status": status, "limit": limit}
    response = requests.get(
        f"{api}/batches/{batch_id}/records",
        params=params,
        headers=AUTH,
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, f"GET records ({status}): {response.text}"
    page: dict[str, Any] = json_of(response)
    assert page["status"] == status
    return page


def record_keys(aws: LocalAws, table: str, batch_id: str) -> list[str]:
    """Every ``record_key`` in the records table under one batch (all pages)."""
    keys: list[str] = []
    paginator = aws.dynamodb.get_paginator("query")
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="batch_id = :b",
        ExpressionAttributeValues={":b": {"S": batch_id}},
        ProjectionExpression="record_key",
    ):
        keys.extend(item["record_key"]["S"] for item in page["Items"])
    return keys


def processed_records(aws: LocalAws, bucket: str, batch_id: str) -> list[dict[str, Any]]:
    """Every processed record of a batch, read from its objects in the processed bucket."""
    records: list[dict[str, Any]] = []
    for key in object_keys(aws, bucket, "processed/"):
        if key.rsplit("/", 1)[-1].startswith(f"{batch_id}-"):
            body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            records.extend(json.loads(line) for line in body.splitlines() if line)
    return records


def object_keys(aws: LocalAws, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return keys


# --------------------------------------------------------------------------- a. a full batch


@dataclass(frozen=True)
class FinishedBatch:
    """The real-plus-broken batch, as posted and as finished."""

    posted_rows: list[dict[str, str]]
    broken_rows: list[dict[str, str]]
    accepted_status: int
    accepted: dict[str, Any]
    batch: dict[str, Any]

    @property
    def batch_id(self) -> str:
        return str(self.accepted["batch_id"])

    def row_at(self, line: int) -> dict[str, str]:
        """The posted row at a physical line of the CSV body (the header is line 1)."""
        return self.posted_rows[line - 2]


@pytest.fixture(scope="module")
def finished_batch(local_runtime: LocalRuntime) -> FinishedBatch:
    """Post 1,000 real flights plus the broken rows as one CSV, and wait until it finishes."""
    header, real_rows = read_csv("flights_1000.csv")
    broken_header, broken_rows = read_csv("flights_broken.csv")
    assert broken_header == header, "the two data files must share the nycflights13 header"
    rows = real_rows + broken_rows
    response = post_csv(local_runtime.api, csv_body(header, rows))
    accepted = json_of(response)
    if response.status_code != 202:
        pytest.fail(f"POST /batches answered {response.status_code}: {accepted}")
    batch = wait_until_finished(local_runtime, accepted["batch_id"])
    return FinishedBatch(
        posted_rows=rows,
        broken_rows=broken_rows,
        accepted_status=response.status_code,
        accepted=accepted,
        batch=batch,
    )


def test_post_answers_202_with_the_batch_and_every_record_counted(finished_batch: FinishedBatch):
    accepted = finished_batch.accepted
    assert finished_batch.accepted_status == 202
    assert re.fullmatch(r"[A-Za-z0-9-]{8,64}", accepted["batch_id"])
    assert accepted["status_url"] == f"/batches/{accepted['batch_id']}"
    assert accepted["records_received"] == 1000 + len(finished_batch.broken_rows)
    assert accepted["duplicate"] is False


def test_batch_completes_with_exactly_the_broken_rows_rejected(finished_batch: FinishedBatch):
    batch = finished_batch.batch
    counts = batch["counts"]
    assert batch["status"] == "COMPLETED_WITH_REJECTS", batch
    assert counts["received"] == 1000 + len(finished_batch.broken_rows)
    assert counts["failed"] == 0, batch
    assert counts["rejected"] == len(finished_batch.broken_rows), batch
    assert counts["processed"] + counts["rejected"] == counts["received"], batch
    assert batch["error"] is None
    assert batch["execution_arn"], batch
    assert batch["started_at"] is not None and batch["finished_at"] is not None
    assert batch["chunks_failed"] == 0
    # Every chunk went through every stage, and the stages agree with the totals.
    stages = batch["stages"]
    assert set(stages) == {"validate", "transform", "enrich", "store"}, stages
    assert all(s["chunks_done"] == batch["chunks_total"] for s in stages.values()), stages
    assert stages["validate"]["rejected"] == counts["rejected"]
    assert stages["store"]["processed"] == counts["processed"]


def test_every_broken_row_is_served_as_rejected_with_its_reasons(
    local_runtime: LocalRuntime, finished_batch: FinishedBatch
):
    page = get_records(local_runtime.api, finished_batch.batch_id, "rejected", 200)
    rejected = page["records"]
    assert page["next"] is None
    assert len(rejected) == len(finished_batch.broken_rows)
    # The broken rows were posted last: their values come back exactly as sent.
    assert sorted((r["values"] for r in rejected), key=lambda v: json.dumps(v, sort_keys=True)) == (
        sorted(finished_batch.broken_rows, key=lambda v: json.dumps(v, sort_keys=True))
    )
    for record in rejected:
        assert record["lineage"]["batch_id"] == finished_batch.batch_id
        assert record["values"] == finished_batch.row_at(record["lineage"]["line"])
        assert record["reasons"], f"no reasons for line {record['lineage']['line']}"
        for reason in record["reasons"]:
            assert set(reason) >= {"field", "rule", "message"}, reason
            assert reason["field"] and reason["rule"] and reason["message"], reason

    def reasons_where(**values: str) -> list[tuple[str, str]]:
        matches = [r for r in rejected if values.items() <= r["values"].items()]
        assert len(matches) == 1, f"expected one rejected row with {values}, got {matches}"
        return [(reason["field"], reason["rule"]) for reason in matches[0]["reasons"]]

    assert reasons_where(year="2013", month="2", day="30") == [("day", "invalid_date")]
    assert reasons_where(carrier="ZZ") == [("carrier", "unknown_carrier")]
    assert reasons_where(origin="E1R") == [("origin", "invalid_airport_code")]
    assert reasons_where(time_hour="last tuesday") == [("time_hour", "invalid_datetime")]


def test_processed_records_are_enriched_and_carry_their_lineage(
    local_runtime: LocalRuntime, finished_batch: FinishedBatch
):
    batch = finished_batch.batch
    page = get_records(local_runtime.api, finished_batch.batch_id, "processed", 50)
    records = page["records"]
    assert len(records) == 50
    assert page["next"], "1,000 processed records cannot fit one page of 50"
    for item in records:
        lineage, record = item["lineage"], item["record"]
        row = finished_batch.row_at(lineage["line"])
        assert (record["carrier"], str(record["flight"]), record["origin"]) == (
            row["carrier"],
            row["flight"],
            row["origin"],
        )
        assert record["flight_date"] == flight_date(row)
        assert record["carrier_info"]["name"], record["carrier_info"]
        assert record["origin_airport"]["name"], record.get("origin_airport")
        assert lineage["batch_id"] == finished_batch.batch_id
        assert lineage["execution_arn"] == batch["execution_arn"]
        assert lineage["source_key"] == batch["raw_key"]
        stamps = [lineage.get(name) for name in LINEAGE_STAMPS]
        assert all(stamps), f"line {lineage['line']} lacks a stage timestamp: {lineage}"
        moments = [datetime.fromisoformat(stamp) for stamp in stamps]
        assert moments == sorted(moments), f"stages out of order: {lineage}"
    assert any(item["record"].get("weather") for item in records), "no record has weather"
    ua1545 = next(r["record"] for r in records if r["record"]["flight_id"].startswith("UA1545-"))
    assert ua1545["carrier_info"]["name"] == "United Air Lines Inc."
    assert ua1545["origin_airport"]["name"] == "Newark Liberty Intl"


def test_records_table_holds_exactly_the_rejected_records(
    local_aws: LocalAws, stack_outputs: dict[str, str], finished_batch: FinishedBatch
):
    counts = finished_batch.batch["counts"]
    keys = record_keys(local_aws, stack_outputs["RecordsTableName"], finished_batch.batch_id)
    assert all(k.startswith("rejected#") for k in keys), f"not a reject: {keys[:10]}"
    assert len(keys) == counts["rejected"]
    assert len(set(keys)) == len(keys), "a record was stored twice"


def test_a_date_partition_serves_a_carriers_flights_of_a_day(
    local_runtime: LocalRuntime, finished_batch: FinishedBatch
):
    first = get_records(local_runtime.api, finished_batch.batch_id, "processed", 1)["records"][0]
    carrier, day = first["record"]["carrier"], first["record"]["flight_date"]
    real_rows = finished_batch.posted_rows[: -len(finished_batch.broken_rows)]
    expected = sum(1 for row in real_rows if (row["carrier"], flight_date(row)) == (carrier, day))
    found: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"date": day, "carrier": carrier, "limit": 10}
    for _ in range(100):
        response = requests.get(
            f"{local_runtime.api}/datasets/flights/records",
            params=params,
            headers=AUTH,
            timeout=HTTP_TIMEOUT_S,
        )
        assert response.status_code == 200, response.text
        page = json_of(response)
        found.extend(page["records"])
        if not page["next"]:
            break
        params["next"] = page["next"]
    ours = [r for r in found if r["lineage"]["batch_id"] == finished_batch.batch_id]
    assert expected >= 1
    assert len(ours) == expected, f"{carrier} on {day}: {len(ours)} records, {expected} posted"
    assert all(r["record"]["carrier"] == carrier for r in found)
    assert all(r["record"]["flight_date"] == day for r in found)


def test_processed_bucket_holds_every_processed_record_as_ndjson_by_date(
    local_aws: LocalAws, stack_outputs: dict[str, str], finished_batch: FinishedBatch
):
    bucket = stack_outputs["ProcessedBucketName"]
    prefix = "processed/dataset=flights/"
    keys = [
        key
        for key in object_keys(local_aws, bucket, prefix)
        if key.rsplit("/", 1)[-1].startswith(f"{finished_batch.batch_id}-")
    ]
    assert keys, f"no objects of the batch under s3://{bucket}/{prefix}"
    lines = 0
    for key in keys:
        match = re.fullmatch(
            rf"{prefix}date=(\d{{4}}-\d{{2}}-\d{{2}})/{finished_batch.batch_id}-\d{{6}}\.ndjson",
            key,
        )
        assert match, f"unexpected key {key}"
        body = local_aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        for line in body.splitlines():
            staged = json.loads(line)
            assert staged["record"]["flight_date"] == match.group(1), key
            assert staged["lineage"]["batch_id"] == finished_batch.batch_id
            lines += 1
    assert lines == finished_batch.batch["counts"]["processed"]


def test_execution_succeeded_through_every_task_state(
    local_runtime: LocalRuntime, local_aws: LocalAws, finished_batch: FinishedBatch
):
    arn = finished_batch.batch["execution_arn"]
    execution = local_aws.stepfunctions.describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", execution
    assert execution["name"] == finished_batch.batch_id
    entered: set[str] = set()
    exited: set[str] = set()
    for page in local_aws.stepfunctions.get_paginator("get_execution_history").paginate(
        executionArn=arn
    ):
        for event in page["events"]:
            if event["type"] == "TaskStateEntered":
                entered.add(event["stateEnteredEventDetails"]["name"])
            elif event["type"] == "TaskStateExited":
                exited.add(event["stateExitedEventDetails"]["name"])
    expected = {*BATCH_TASK_STATES, "PublishOutcome"}
    assert expected <= entered, f"never entered: {sorted(expected - entered)}"
    assert expected <= exited, f"never exited: {sorted(expected - exited)}"
    assert "MarkFailed" not in entered, sorted(entered)
    # The chunk stages run in the Distributed Map's children; the ledger tells what they did.
    response = requests.get(
        f"{local_runtime.api}/batches/{finished_batch.batch_id}/execution",
        headers=AUTH,
        timeout=HTTP_TIMEOUT_S,
    )
    view = json_of(response)
    chunks = finished_batch.batch["chunks_total"]
    for state in CHUNK_TASK_STATES:
        assert (view["states"][state]["status"], view["states"][state]["entered"]) == (
            "SUCCEEDED",
            chunks,
        ), state
    assert view["states"]["RecordChunkFailure"]["status"] == "NOT_STARTED"
    [map_run] = view["map_runs"]
    assert map_run["item_counts"]["succeeded"] == chunks


# --------------------------------------------------------------------------- b. bad inputs


def _oversized_csv() -> bytes:
    # A well-formed flights CSV whose only fault is its size (just over the limit, far fewer
    # records than the per-batch record limit).
    header, rows = read_csv("flights_1000.csv")
    one = csv_body(header, rows)
    data_lines = one.split(b"\n", 1)[1]
    body = one
    while len(body) <= MAX_BODY_BYTES + 100_000:
        body += data_lines
    return body


def _wrong_header_csv() -> bytes:
    header, rows = read_csv("flights_1000.csv")
    body = csv_body(header, rows[:5]).decode()
    return body.replace("carrier,", "airline,", 1).encode()


@dataclass(frozen=True)
class BadRequest:
    body: bytes
    headers: dict[str, str]
    dataset: str | None
    status: int
    code: str


def _bad_requests() -> dict[str, BadRequest]:
    header, rows = read_csv("flights_1000.csv")
    good_csv = csv_body(header, rows[:5])
    return {
        "malformed-json": BadRequest(
            b'{"dataset": "flights", "records": [{"year": 2013,',
            {"Content-Type": "application/json"},
            None,
            400,
            "malformed_request",
        ),
        "missing-content-type": BadRequest(good_csv, {}, "flights", 415, "unsupported_media_type"),
        "text-plain": BadRequest(
            good_csv, {"Content-Type": "text/plain"}, "flights", 415, "unsupported_media_type"
        ),
        "empty-body": BadRequest(
            b"", {"Content-Type": "text/csv"}, "flights", 400, "malformed_request"
        ),
        "unknown-dataset": BadRequest(
            good_csv, {"Content-Type": "text/csv"}, "trains", 422, "unknown_dataset"
        ),
        "wrong-csv-header": BadRequest(
            _wrong_header_csv(), {"Content-Type": "text/csv"}, "flights", 400, "malformed_request"
        ),
        "over-the-size-limit": BadRequest(
            _oversized_csv(), {"Content-Type": "text/csv"}, "flights", 413, "payload_too_large"
        ),
    }


BAD_REQUESTS = _bad_requests()


def _traces(api: str, aws: LocalAws, outputs: dict[str, str]) -> tuple[int, int]:
    """What a stored batch would leave: the batches the API lists and the raw objects."""
    return len(list_all_batches(api)), len(object_keys(aws, outputs["RawBucketName"], "raw/"))


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_input_is_refused_with_a_json_error_and_leaves_no_trace(
    name: str, local_runtime: LocalRuntime, local_aws: LocalAws, stack_outputs: dict[str, str]
):
    bad = BAD_REQUESTS[name]
    before = _traces(local_runtime.api, local_aws, stack_outputs)
    response = requests.post(
        f"{local_runtime.api}/batches",
        params={"dataset": bad.dataset} if bad.dataset else None,
        data=bad.body,
        headers={**AUTH, **bad.headers},
        timeout=HTTP_TIMEOUT_S,
    )
    if not bad.headers:
        assert "Content-Type" not in response.request.headers, "the request must omit the header"
    body = json_of(response)
    assert (response.status_code, body.get("code")) == (bad.status, bad.code), body
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], list), body
    assert response.headers["Content-Type"].startswith("application/json")
    assert _traces(local_runtime.api, local_aws, stack_outputs) == before, (
        f"{name} left a batch or a raw object behind"
    )
    health = requests.get(f"{local_runtime.api}/health", timeout=HTTP_TIMEOUT_S)
    assert health.status_code == 200, health.text


# --------------------------------------------------------------------------- c. idempotency


def test_same_idempotency_key_and_body_make_one_batch_and_another_body_conflicts(
    local_runtime: LocalRuntime, local_aws: LocalAws, stack_outputs: dict[str, str]
):
    api = local_runtime.api
    header, rows = read_csv("flights_1000.csv")
    _, broken = read_csv("flights_broken.csv")
    body = csv_body(header, rows[:100] + broken[:3])
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}

    first = post_csv(api, body, headers=key)
    second = post_csv(api, body, headers=key)
    assert first.status_code == 202, first.text
    assert second.status_code == 202, second.text
    first_body, second_body = json_of(first), json_of(second)
    batch_id = first_body["batch_id"]
    assert first_body["duplicate"] is False
    assert second_body["batch_id"] == batch_id
    assert second_body["duplicate"] is True
    assert second_body["records_received"] == first_body["records_received"] == 103

    listed = [b["batch_id"] for b in list_all_batches(api)]
    assert listed.count(batch_id) == 1, f"{batch_id} listed {listed.count(batch_id)} times"

    batch = wait_until_finished(local_runtime, batch_id)
    assert batch["status"] == "COMPLETED_WITH_REJECTS", batch
    assert batch["counts"] == {"received": 103, "processed": 100, "rejected": 3, "failed": 0}
    keys = record_keys(local_aws, stack_outputs["RecordsTableName"], batch_id)
    lines = [
        r["lineage"]["line"]
        for r in processed_records(local_aws, stack_outputs["ProcessedBucketName"], batch_id)
    ]
    assert len(keys) + len(lines) == 103, f"{len(keys) + len(lines)} records stored for 103"
    assert (len(keys), len(set(lines))) == (3, 100)

    machine_arn = batch["execution_arn"].replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    names = [
        execution["name"]
        for page in local_aws.stepfunctions.get_paginator("list_executions").paginate(
            stateMachineArn=machine_arn
        )
        for execution in page["executions"]
    ]
    assert names.count(batch_id) == 1, f"{names.count(batch_id)} executions for {batch_id}"

    conflict = post_csv(api, csv_body(header, rows[:50]), headers=key)
    assert conflict.status_code == 409, conflict.text
    assert json_of(conflict)["code"] == "idempotency_conflict"
    assert get_batch(api, batch_id)["counts"]["received"] == 103
    assert [b["batch_id"] for b in list_all_batches(api)].count(batch_id) == 1
