"""The accounting holds under faults: many concurrent batches, every fault kind on at once.

A second local runtime runs with a fault plan (``SLUICE_FAULTS``): Lambda errors and
timeouts in every stage, DynamoDB throttling and unprocessed items, S3 slow-downs. The
checker (``tests/checker/history.py``) posts batches as JSON, CSV and uploads at once,
then reads back everything and checks every source line is in exactly one place. The
batches that failed are retried (still under faults) and checked again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import boto3
import pytest

from tests.checker.history import (
    EVERY_FAULT,
    Client,
    check,
    replay_first_reject,
    run_workload,
    summary,
    wait_final,
)
from tests.e2e.conftest import API_TOKEN, REGION, read_stack_outputs, start_local_runtime

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.conftest import LocalRuntime

BATCHES = 21
ROWS = 60


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    environment = {
        "SLUICE_FAULTS": EVERY_FAULT,
        "SLUICE_FAULTS_SEED": "13",
        "SLUICE_CHUNK_SIZE": "20",
    }
    with start_local_runtime(tmp_path_factory.mktemp("faulty"), environment) as runtime:
        yield runtime


def test_every_line_is_in_exactly_one_place_under_every_fault(faulty: LocalRuntime):
    client = Client(faulty.api, API_TOKEN)
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
    )
    cloudformation = session.client("cloudformation", endpoint_url=faulty.aws_endpoint)
    s3 = session.client("s3", endpoint_url=faulty.aws_endpoint)
    bucket = read_stack_outputs(cloudformation)["ProcessedBucketName"]

    sent = run_workload(client, BATCHES, ROWS, seed=13)
    stuck = wait_final(client, sent, deadline_s=240)

    assert stuck == [], f"not final: {stuck}\n{faulty.log_tail()}"
    assert check(client, sent, s3, bucket) == []
    injected = len(re.findall(r'"fault injected"', faulty.log_path.read_text()))
    assert injected > 20, "the plan injected (almost) nothing"

    # Retry what failed, under the same faults: nothing counted twice, nothing lost.
    failed = [s for s in sent if s.final["status"] == "FAILED"]
    for batch in failed:
        answer = client.call("POST", f"/batches/{batch.batch_id}/retry")
        assert answer.status_code in {202, 409}, answer.text
    assert wait_final(client, failed, deadline_s=120) == []
    assert check(client, sent, s3, bucket) == []
    # Replay a reject of a few batches (twice, one key): one child each, each record once.
    with_rejects = [s for s in sent if s.final["counts"]["rejected"]][:3]
    children = [c for c in (replay_first_reject(client, s) for s in with_rejects) if c]
    assert children
    assert wait_final(client, children, deadline_s=120) == []
    assert check(client, [*sent, *children], s3, bucket) == []
    figures = summary(sent)
    assert figures["batches"] == BATCHES
    assert figures["records"]["received"] == sum(len(s.lines) for s in sent)
