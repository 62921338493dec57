"""The running local runtime (``python -m devserver``) as a session fixture, and clients for it.

One devserver process serves the whole e2e session: moto on one free port, the API on
another, with the tests' second dataset (readings) registered beside flights. Its output
goes to a log file; when a test fails the log's path is printed at the end of the
session, and a failed start puts the log's tail in the error itself.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from shared.datasets import DATASET_MODULES_VARIABLE
from shared.objects import chunk_key
from tests.e2e.dashboard_pages import (
    BATCH_DEADLINE_S,
    ApiClient,
    Dashboard,
    finished,
    launch_chromium,
    open_dashboard,
    repeated_csv,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient
    from playwright.sync_api import Browser

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
STACK_NAME = "sluice"
STARTUP_DEADLINE_S = 60.0
STOP_GRACE_S = 10.0
# The admin key the devserver is started with (it reads SLUICE_API_TOKEN).
API_TOKEN = "sluice_e2e_" + secrets.token_urlsafe(24)
DEVSERVER_LOG = pytest.StashKey[Path]()
# The session's chunks hold 1,000 rows (the default is larger): small batches make
# several chunks, which the dashboard's tests count.
CHUNK_ROWS = 1_000
# The session's runtime also knows the tests' second dataset, so the dashboard shows one
# that is not flights (SLUICE_DATASET_MODULES, read by shared.datasets in every process).
SESSION_DATASET_MODULES = "tests.functional.readings_dataset"
# The failed-chunk batch: six chunks of real flights, the last one's object deleted.
FAILING_ROWS = 6 * CHUNK_ROWS
FAILING_CHUNK = 5


@dataclass(frozen=True)
class LocalRuntime:
    """Where the running devserver answers, and where it writes its output."""

    api: str
    aws_endpoint: str
    log_path: Path
    process: subprocess.Popen[bytes]
    state_dir: Path

    def log_tail(self, lines: int = 60) -> str:
        """Return the last lines of the devserver's output, to put in a failure message."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            return f"(cannot read {self.log_path}: {err})"
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class LocalAws:
    """boto3 clients pointed at the devserver's moto."""

    cloudformation: CloudFormationClient
    dynamodb: DynamoDBClient
    s3: S3Client
    stepfunctions: SFNClient


def _free_ports(count: int) -> list[int]:
    # Hold every socket open until all are bound, so the ports are distinct.
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]


def _wait_until_healthy(runtime: LocalRuntime) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        code = runtime.process.poll()
        if code is not None:
            pytest.fail(
                f"the devserver exited with code {code} before answering GET /health; "
                f"log {runtime.log_path}:\n{runtime.log_tail()}"
            )
        try:
            response = requests.get(f"{runtime.api}/health", timeout=2)
        except requests.RequestException as err:
            last = f"{type(err).__name__}: {err}"
        else:
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        time.sleep(0.25)
    pytest.fail(
        f"GET {runtime.api}/health did not answer 200 within {STARTUP_DEADLINE_S:.0f} s "
        f"(last: {last}); log {runtime.log_path}:\n{runtime.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_GRACE_S)


def _child_environment() -> dict[str, str]:
    # The devserver sets its own region, credentials and endpoint; drop anything that
    # could point it (or the functions' settings) somewhere else.
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SLUICE_", "MOTO_"))
    }
    environment["PYTHONUNBUFFERED"] = "1"
    # The runtime and its spawned Lambda workers import dataset modules from the checkout.
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    environment["SLUICE_API_TOKEN"] = API_TOKEN
    environment["SLUICE_CHUNK_SIZE"] = str(CHUNK_ROWS)
    return environment


@contextlib.contextmanager
def start_local_runtime(
    directory: Path, environment: dict[str, str] | None = None
) -> Iterator[LocalRuntime]:
    """Run ``python -m devserver`` on two free ports (with extra settings) until the block ends."""
    api_port, moto_port = _free_ports(2)
    log_path = directory / "devserver.log"
    state_dir = directory / "state"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devserver",
                "--port",
                str(api_port),
                "--moto-port",
                str(moto_port),
                "--state-dir",
                str(state_dir),
            ],
            cwd=REPO_ROOT,
            env={**_child_environment(), **(environment or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    runtime = LocalRuntime(
        api=f"http://127.0.0.1:{api_port}",
        aws_endpoint=f"http://127.0.0.1:{moto_port}",
        log_path=log_path,
        process=process,
        state_dir=state_dir,
    )
    try:
        _wait_until_healthy(runtime)
        yield runtime
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def local_runtime(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRuntime]:
    """Start ``python -m devserver`` (flights and readings) on free ports for the session."""
    directory = tmp_path_factory.mktemp("devserver")
    environment = {DATASET_MODULES_VARIABLE: SESSION_DATASET_MODULES}
    try:
        with start_local_runtime(directory, environment) as runtime:
            yield runtime
    finally:
        request.config.stash[DEVSERVER_LOG] = directory / "devserver.log"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Point at the devserver's log when the session had failures."""
    log_path = config.stash.get(DEVSERVER_LOG, None)
    if log_path is not None and (exitstatus != 0 or terminalreporter.stats.get("failed")):
        terminalreporter.write_sep("-", "local runtime", yellow=True)
        terminalreporter.write_line(f"devserver log (python -m devserver output): {log_path}")


@pytest.fixture(scope="session")
def api_token(local_runtime: LocalRuntime) -> str:
    """The admin key the local runtime was started with."""
    return API_TOKEN


@pytest.fixture(scope="session")
def api(local_runtime: LocalRuntime) -> str:
    """The API's base URL, e.g. ``http://127.0.0.1:8000``."""
    return local_runtime.api


@pytest.fixture(scope="session")
def local_aws(local_runtime: LocalRuntime) -> LocalAws:
    """boto3 clients for the devserver's local AWS (us-east-1, credentials ``local``)."""
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
    )
    endpoint = local_runtime.aws_endpoint
    return LocalAws(
        cloudformation=session.client("cloudformation", endpoint_url=endpoint),
        dynamodb=session.client("dynamodb", endpoint_url=endpoint),
        s3=session.client("s3", endpoint_url=endpoint),
        stepfunctions=session.client("stepfunctions", endpoint_url=endpoint),
    )


def read_stack_outputs(cloudformation: CloudFormationClient) -> dict[str, str]:
    """Return the ``sluice`` stack's outputs by key (BatchesTableName, RawBucketName, ...)."""
    stacks = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"]
    assert len(stacks) == 1, f"expected one stack named {STACK_NAME!r}, got {len(stacks)}"
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


@pytest.fixture(scope="session")
def stack_outputs(local_aws: LocalAws) -> dict[str, str]:
    """The deployed stack's outputs, read from local CloudFormation."""
    outputs = read_stack_outputs(local_aws.cloudformation)
    expected = {
        "BatchesTableName",
        "RecordsTableName",
        "RawBucketName",
        "ProcessedBucketName",
        "IngestQueueUrl",
        "PipelineDeadLetterQueueUrl",
        "PipelineEventsTopicArn",
    }
    missing = expected - outputs.keys()
    assert not missing, f"stack {STACK_NAME!r} lacks outputs {sorted(missing)}: {outputs}"
    return outputs


def json_of(response: requests.Response) -> Any:
    """Return a response's JSON body, failing with the raw text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        pytest.fail(
            f"{response.request.method} {response.url} answered {response.status_code} "
            f"with a body that is not JSON: {response.text[:500]!r}"
        )


# --------------------------------------------------------------------------- the dashboard's tests


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per test module."""
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def dashboard(browser: Browser, api: str) -> Iterator[Dashboard]:
    """A fresh browser context on the dashboard at laptop width, closed after the test."""
    board = open_dashboard(browser, api)
    yield board
    board.page.context.close()


@pytest.fixture(scope="module")
def client(api: str, api_token: str) -> ApiClient:
    """The API with the admin key, for setting up what the browser looks at."""
    return ApiClient(base_url=api, token=api_token)


@pytest.fixture(scope="module")
def failed_chunk_batch(
    client: ApiClient,
    local_runtime: LocalRuntime,
    local_aws: LocalAws,
    stack_outputs: dict[str, str],
) -> dict[str, Any]:
    """Six chunks of real flights; the last chunk's object is deleted before it runs, so it fails.

    Split writes every chunk to S3 before the Distributed Map starts, four at a time: the
    last chunk's raw object is removed as soon as it exists, seconds before its turn.
    """
    accepted = client.post_csv(repeated_csv(FAILING_ROWS))
    batch_id = accepted["batch_id"]
    bucket = stack_outputs["ProcessedBucketName"]
    key = chunk_key(batch_id, FAILING_CHUNK, "raw")
    deadline = time.monotonic() + BATCH_DEADLINE_S
    while True:
        try:
            local_aws.s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            if time.monotonic() > deadline:
                pytest.fail(f"split never wrote s3://{bucket}/{key}:\n{local_runtime.log_tail()}")
            time.sleep(0.05)
            continue
        local_aws.s3.delete_object(Bucket=bucket, Key=key)
        break
    batch = finished(client, local_runtime, batch_id)
    if batch["chunks"]["failed"] != 1:
        pytest.fail(f"chunk {FAILING_CHUNK} ran before its object could be deleted: {batch}")
    return batch
