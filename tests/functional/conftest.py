"""The whole pipeline in-process: moto (``mock_aws``) executing the real ASL, real handlers.

The fixture provisions exactly what ``python -m devserver`` provisions (the same
template, ASL and dispatcher), drives routes through ``chalice.test.Client`` and feeds
the ingest queue to the starter like Lambda's event source mapping.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

import app
from chalicelib.api_keys import ApiKeyRepository, Scope
from devserver.lambda_dispatch import Handler, install, uninstall
from devserver.runtime import (
    MOTO_CONFIG,
    REGION,
    apply_environment,
    lambda_handlers,
    make_poller,
    provision_local,
)
from shared.context import get_context
from shared.models import TERMINAL_STATUSES
from tests.functional import readings_dataset  # registers the readings dataset

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devserver.poller import SqsPoller
    from devserver.provision import Provisioned
    from shared.audit import AuditEntry

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


@dataclass
class Pipeline:
    """Handles on the in-process pipeline."""

    provisioned: Provisioned
    client: Client
    poller: SqsPoller
    events_queue_url: str
    token: str
    aws: dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def outputs(self) -> dict[str, str]:
        return self.provisioned.outputs

    def post(
        self,
        body: bytes | str,
        content_type: str | None = "text/csv",
        query: str = "?dataset=flights",
        headers: dict[str, str] | None = None,
    ) -> Any:
        all_headers = {**self.auth, **(headers or {})}
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        return self.client.http.post(f"/batches{query}", headers=all_headers, body=body)

    def post_json(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """POST a JSON body (none when ``body`` is None) to a route with the admin key."""
        all_headers = {**self.auth, "Content-Type": "application/json", **(headers or {})}
        data = b"" if body is None else json.dumps(body).encode()
        return self.client.http.post(path, headers=all_headers, body=data)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.http.get(path, headers=self.auth if headers is None else headers)

    def start_queued(self) -> int:
        """Feed every queued ingest message to the starter; return how many there were."""
        total = 0
        while count := self.poller.poll_once(wait_seconds=0):
            total += count
        return total

    def wait(self, batch_id: str, timeout: float = 60) -> dict[str, Any]:
        """Start what is queued and wait until the batch reaches a terminal status."""
        self.start_queued()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch: dict[str, Any] = self.get(f"/batches/{batch_id}").json_body
            if batch["status"] in TERMINAL_STATUSES:
                self._wait_for_execution(batch["execution_arn"], deadline)
                return batch
            time.sleep(0.1)
        raise AssertionError(f"batch {batch_id} did not finish within {timeout} s")

    def _wait_for_execution(self, arn: str, deadline: float) -> None:
        sfn = self.aws["stepfunctions"]
        while time.monotonic() < deadline:
            if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                return
            time.sleep(0.05)
        raise AssertionError(f"execution {arn} still running")

    def get_context_audit(self, batch_id: str) -> list[AuditEntry]:
        """The audit trail of a batch, newest first."""
        entries, _ = get_context().audit.for_batch(batch_id)
        return entries

    def history(self, arn: str) -> list[dict[str, Any]]:
        sfn = self.aws["stepfunctions"]
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return [event for page in pages for event in page["events"]]

    def events(self) -> list[dict[str, Any]]:
        """Drain the pipeline-events probe queue; return the published messages."""
        sqs = self.aws["sqs"]
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(
            QueueUrl=self.events_queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return messages

    def table_items(self, output: str) -> list[dict[str, Any]]:
        table = self.aws["dynamodb"].Table(self.outputs[output])
        response = table.scan()
        items = list(response["Items"])
        while "LastEvaluatedKey" in response:
            response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
            items.extend(response["Items"])
        return items

    def batch_items(self) -> list[dict[str, Any]]:
        """The batches table's items of batches (not the audit trail's nor the cost total's)."""
        return [
            item
            for item in self.table_items("BatchesTableName")
            if not str(item["batch_id"]).startswith("~")
        ]

    def object_keys(self, output: str, prefix: str = "") -> list[str]:
        s3 = self.aws["s3"]
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.outputs[output], Prefix=prefix
        )
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def processed_lines(self, batch_id: str) -> list[dict[str, Any]]:
        """Every processed record of a batch, read straight from the processed bucket."""
        s3 = self.aws["s3"]
        records: list[dict[str, Any]] = []
        for key in self.object_keys("ProcessedBucketName", "processed/"):
            if not key.rsplit("/", 1)[-1].startswith(f"{batch_id}-"):
                continue
            body = s3.get_object(Bucket=self.outputs["ProcessedBucketName"], Key=key)["Body"]
            records.extend(json.loads(line) for line in body.read().splitlines() if line)
        return records

    def queue_depth(self, output: str) -> int:
        attributes = self.aws["sqs"].get_queue_attributes(
            QueueUrl=self.outputs[output],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def local_aws(fake_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def pipeline(local_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    provisioned = provision_local()
    for name, value in provisioned.environment.items():
        monkeypatch.setenv(name, value)
    apply_environment({})
    clients: dict[str, Any] = {
        "stepfunctions": boto3.client("stepfunctions", region_name=REGION),
        "sqs": boto3.client("sqs", region_name=REGION),
        "s3": boto3.client("s3", region_name=REGION),
        "dynamodb": boto3.resource("dynamodb", region_name=REGION),
        "sns": boto3.client("sns", region_name=REGION),
    }
    probe_url = clients["sqs"].create_queue(QueueName="events-probe")["QueueUrl"]
    probe_arn = clients["sqs"].get_queue_attributes(
        QueueUrl=probe_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    clients["sns"].subscribe(
        TopicArn=provisioned.outputs["PipelineEventsTopicArn"],
        Protocol="sqs",
        Endpoint=probe_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    keys = ApiKeyRepository(clients["dynamodb"].Table(provisioned.outputs["ApiKeysTableName"]))
    _, token = keys.create("functional tests", [Scope.ADMIN])
    with Client(app.app, stage_name="dev", project_dir=str(ROOT)) as client:
        yield Pipeline(provisioned, client, make_poller(provisioned), probe_url, token, clients)
    uninstall()
    apply_environment({})


@pytest.fixture
def broken() -> Iterator[set[str]]:
    """The sensors that break transform while they are in the set (readings_dataset)."""
    readings_dataset.BROKEN.clear()
    yield readings_dataset.BROKEN
    readings_dataset.BROKEN.clear()


@pytest.fixture
def payload_sizes(pipeline: Pipeline) -> list[int]:
    """The size in bytes of every Lambda input and output while the test runs.

    The dispatcher is installed again with each real handler wrapped in a recorder: the
    handlers run unchanged; only the sizes of what crosses the state machine are noted.
    """
    sizes: list[int] = []

    def measured(handler: Handler) -> Handler:
        def run(event: Any, context: Any) -> Any:
            sizes.append(len(json.dumps(event)))
            result = handler(event, context)
            sizes.append(len(json.dumps(result)))
            return result

        return run

    install({name: measured(handler) for name, handler in lambda_handlers().items()})
    return sizes


def csv_rows(name: str) -> tuple[str, list[str]]:
    """Return a test CSV's header and data lines."""
    lines = (DATA / name).read_text().splitlines()
    return lines[0], lines[1:]


def csv_body(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"
