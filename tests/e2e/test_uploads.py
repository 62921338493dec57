"""Uploads on the running local runtime: the presigned POST, S3 → EventBridge → SQS → a batch.

The file goes to moto's S3 over HTTP exactly as a client sends it to AWS; moto emits the
object's event to EventBridge, the template's rule puts it on the ingest queue, and the
starter makes and starts the batch.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests

from shared.models import TERMINAL_STATUSES
from tests.e2e.conftest import API_TOKEN, json_of, start_local_runtime
from tests.uploads import send_to_ticket

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.conftest import LocalAws, LocalRuntime

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
DATA = Path(__file__).resolve().parents[1] / "data"
TIMEOUT_S = 30


def _flights(count: int, header: str | None = None) -> bytes:
    text = (DATA / "flights_1000.csv").read_text()
    lines = text.splitlines()
    return ("\n".join([header or lines[0], *lines[1 : count + 1]]) + "\n").encode()


def _declare(api: str, data: bytes, headers: dict[str, str] | None = None, **fields: Any) -> Any:
    response = requests.post(
        f"{api}/uploads",
        json={
            "dataset": "flights",
            "filename": "flights.csv",
            "content_type": "text/csv",
            "size_bytes": len(data),
            **fields,
        },
        headers={**AUTH, **(headers or {})},
        timeout=TIMEOUT_S,
    )
    return response


def _upload(api: str, data: bytes, **fields: Any) -> dict[str, Any]:
    answer = _declare(api, data, **fields)
    assert answer.status_code == 201, answer.text
    ticket: dict[str, Any] = json_of(answer)
    send_to_ticket(ticket, data)
    return ticket


def _wait(runtime: LocalRuntime, batch_id: str, deadline_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        response = requests.get(f"{runtime.api}/batches/{batch_id}", headers=AUTH, timeout=30)
        if (
            response.status_code == 200
            and (batch := json_of(response))["status"] in TERMINAL_STATUSES
        ):
            return dict(batch)
        if response.status_code == 404:
            assert json_of(response)["code"] == "upload_pending", response.text
        time.sleep(0.5)
    pytest.fail(f"batch {batch_id} did not finish; log {runtime.log_path}:\n{runtime.log_tail()}")


def _executions(aws: LocalAws, batch: dict[str, Any]) -> list[str]:
    machine = batch["execution_arn"].replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    return [
        execution["name"]
        for page in aws.stepfunctions.get_paginator("list_executions").paginate(
            stateMachineArn=machine
        )
        for execution in page["executions"]
    ]


def test_a_presigned_upload_reaches_a_succeeded_batch(local_runtime: LocalRuntime):
    data = _flights(500)

    ticket = _upload(local_runtime.api, data)
    batch = _wait(local_runtime, ticket["batch_id"])

    assert batch["status"] == "SUCCEEDED", batch
    assert (batch["source"], batch["size_bytes"], batch["raw_key"]) == (
        "upload",
        len(data),
        ticket["key"],
    )
    assert batch["counts"] == {"received": 500, "processed": 500, "rejected": 0, "failed": 0}
    assert batch["chunks"]["stored"] == batch["chunks"]["total"] == 1


def test_the_same_object_arriving_twice_makes_one_batch_and_one_execution(
    local_runtime: LocalRuntime, local_aws: LocalAws
):
    data = _flights(100)
    ticket = _upload(local_runtime.api, data)
    first = _wait(local_runtime, ticket["batch_id"])

    send_to_ticket(ticket, data)  # the same POST again: a second object version, a second S3 event
    time.sleep(3)
    again = _wait(local_runtime, ticket["batch_id"])

    assert _executions(local_aws, first).count(ticket["batch_id"]) == 1
    assert (
        again["counts"]
        == first["counts"]
        == {
            "received": 100,
            "processed": 100,
            "rejected": 0,
            "failed": 0,
        }
    )
    assert again["finished_at"] == first["finished_at"]


def test_an_upload_with_a_wrong_header_ends_failed_saying_so(local_runtime: LocalRuntime):
    header = (DATA / "flights_1000.csv").read_text().splitlines()[0].replace("dest", "to")

    batch = _wait(local_runtime, _upload(local_runtime.api, _flights(20, header))["batch_id"])

    assert batch["status"] == "FAILED"
    assert (batch["error"]["code"], batch["error"]["line"]) == ("header_mismatch", 1)
    assert batch["counts"]["processed"] == 0


def test_a_gzip_upload_is_read_like_the_plain_file(local_runtime: LocalRuntime):
    plain = _flights(300)

    batch = _wait(
        local_runtime,
        _upload(local_runtime.api, gzip.compress(plain), content_encoding="gzip")["batch_id"],
    )

    assert batch["status"] == "SUCCEEDED", batch
    assert batch["content_encoding"] == "gzip"
    assert batch["counts"]["processed"] == 300


def test_an_interrupted_upload_registers_nothing_and_the_same_key_resumes_it(
    local_runtime: LocalRuntime,
):
    data = _flights(50)
    key = {"Idempotency-Key": f"e2e-resume-{uuid.uuid4()}"}
    interrupted = json_of(_declare(local_runtime.api, data, headers=key))
    listed = requests.get(f"{local_runtime.api}/batches?limit=200", headers=AUTH, timeout=30)
    assert interrupted["batch_id"] not in {b["batch_id"] for b in json_of(listed)["batches"]}

    resumed = _declare(local_runtime.api, data, headers=key)
    assert resumed.status_code == 201
    send_to_ticket(json_of(resumed), data)
    batch = _wait(local_runtime, interrupted["batch_id"])
    done = _declare(local_runtime.api, data, headers=key)

    assert batch["status"] == "SUCCEEDED"
    assert json_of(done)["duplicate"] is True
    assert json_of(done)["upload"] is None


# --------------------------------------------------------------------------- many chunks


@pytest.fixture(scope="module")
def small_chunks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """A second local runtime whose chunks hold five rows, so little data makes many chunks."""
    with start_local_runtime(
        tmp_path_factory.mktemp("small-chunks"), {"SLUICE_CHUNK_SIZE": "5"}
    ) as runtime:
        yield runtime


def test_an_upload_of_hundreds_of_chunks_adds_up_and_its_progress_stays_one_read(
    small_chunks: LocalRuntime,
):
    rows = list(csv.DictReader(io.StringIO((DATA / "flights_1000.csv").read_text())))
    data = _flights(1000)

    batch = _wait(small_chunks, _upload(small_chunks.api, data)["batch_id"], deadline_s=300)

    assert batch["status"] == "SUCCEEDED", batch
    assert batch["chunks"]["total"] == batch["chunks"]["stored"] == 200
    assert batch["counts"]["processed"] == len(rows) == 1000
    failed = requests.get(
        f"{small_chunks.api}/batches/{batch['batch_id']}/chunks",
        params={"status": "failed"},
        headers=AUTH,
        timeout=30,
    )
    assert json_of(failed)["chunks"] == []
    view = json_of(
        requests.get(
            f"{small_chunks.api}/batches/{batch['batch_id']}/execution", headers=AUTH, timeout=30
        )
    )
    assert view["map_runs"][0]["item_counts"]["succeeded"] == 200
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=small_chunks.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    history = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(
            executionArn=batch["execution_arn"]
        )
        for event in page["events"]
    ]
    # Each state's input and output: none grows with the 200 chunks.
    largest = max(
        len(json.dumps(details, default=str))
        for event in history
        for name, details in event.items()
        if name.endswith("EventDetails")
    )
    assert largest < 4_000, largest
