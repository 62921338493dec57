"""Least privilege that still works: every AWS call a function makes is one its role allows.

The pipeline runs in-process over moto (the local runtime's wiring: real handlers, the
real ASL) through the success path, a rejected row, a failed chunk, a failed batch, a
repeated ``Idempotency-Key`` and every read route. A botocore hook records each call
with the function it was made in (found on the call stack: the handler in ``app.py``,
the authorizer or a route in ``chalicelib/api.py``), the IAM action and the resource
ARN. Each call is then evaluated against that function's policy from
``infra/functions.py``, its references resolved to the resources the stack created.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

import app
from chalicelib.api import _state_machine_definition
from chalicelib.api_keys import ApiKeyRepository, Scope
from devserver.lambda_dispatch import uninstall
from devserver.runtime import MOTO_CONFIG, REGION, apply_environment, make_poller, provision_local
from infra.functions import API_HANDLER, FUNCTIONS, FunctionSpec, role_statements
from infra.template import load_template
from shared.models import TERMINAL_STATUSES
from tests.functional import readings_dataset  # noqa: F401  (registers the readings dataset)
from tests.uploads import send_to_ticket

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_cloudformation.type_defs import StackResourceSummaryTypeDef

    from devserver.provision import Provisioned

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

ROOT = Path(__file__).resolve().parents[2]
APP_FILE = str(ROOT / "app.py")
API_FILE = str(ROOT / "chalicelib" / "api.py")
ACCOUNT = "123456789012"  # moto's default account
# Operation names whose IAM action is spelled differently.
_IAM_ACTIONS = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_SERVICES = {"s3", "dynamodb", "sqs", "sns", "states"}
# Granted but never called by our code, each for a reason.
_GRANTED_NOT_CALLED = {
    "s3:ListBucket": "GetObject on a missing key answers 404 (NoSuchKey) only with it",
    "sqs:ReceiveMessage": "Lambda's event source mapping polls with the function's role",
    "sqs:DeleteMessage": "Lambda's event source mapping deletes with the function's role",
    "sqs:GetQueueAttributes": "Lambda's event source mapping reads the queue with it",
    "s3:AbortMultipartUpload": "split aborts a multipart manifest only when reading fails",
    "s3:DeleteObject": "a failed chunk withdraws objects only when it failed after Store wrote",
    "dynamodb:BatchWriteItem": "(record_chunk_failure) rejects exist only once Store wrote them",
    "states:RedriveExecution": "a stopped execution is redriven only on AWS (moto has no redrive)",
    "sqs:StartMessageMoveTask": "the whole ingest DLQ is moved by a task only on AWS (not moto)",
    "sqs:ListMessageMoveTasks": "a running move task is looked for only on AWS (moto has none)",
}


@dataclass(frozen=True)
class Call:
    """One AWS request, made inside one of the app's functions."""

    function: str
    action: str
    resources: tuple[str, ...]


def _caller() -> str | None:
    """Return the logical id of the function whose code is on the stack, innermost first."""
    by_name = {spec.chalice_name: spec.logical_id for spec in FUNCTIONS}
    frame = inspect.currentframe()
    while frame is not None:
        code = frame.f_code
        if code.co_filename == APP_FILE and code.co_name in by_name:
            return by_name[code.co_name]
        # app.py makes each state's handler in a loop: the function knows its name.
        if code.co_filename == APP_FILE and frame.f_locals.get("name") in by_name:
            return by_name[frame.f_locals["name"]]
        if code.co_filename == API_FILE:
            return by_name.get(code.co_name, by_name[API_HANDLER])
        frame = frame.f_back
    return None


def _resources(service: str, params: dict[str, Any]) -> tuple[str, ...]:
    if service == "s3":
        key = params.get("Key")
        return (f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key is not None else ""),)
    if service == "dynamodb":
        tables = list(params["RequestItems"]) if "RequestItems" in params else [params["TableName"]]
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        return tuple(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}{index}" for t in tables)
    if service == "sqs":
        return (f"arn:aws:sqs:{REGION}:{ACCOUNT}:{params['QueueUrl'].rsplit('/', 1)[1]}",)
    if service == "states":
        return (params.get("stateMachineArn") or params.get("mapRunArn") or params["executionArn"],)
    return (params["TopicArn"],)


@dataclass
class Recorder:
    calls: list[Call]

    def __call__(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        service = model.service_model.endpoint_prefix
        function = _caller()
        if function is None or service not in _SERVICES:
            return
        if model.name == "TransactWriteItems":
            # IAM authorises a transaction by the actions of its items.
            for item in params["TransactItems"]:
                kind, operation = next(iter(item.items()))
                action = (
                    "dynamodb:ConditionCheckItem"
                    if kind == "ConditionCheck"
                    else (f"dynamodb:{kind}Item")
                )
                self.calls.append(Call(function, action, _resources(service, operation)))
            return
        presigned = _presigned_post_key()
        if presigned is not None:
            # botocore builds a presigned POST from CreateBucket's model; what the form
            # does, signed with the caller's role, is a PutObject of that key.
            bucket = f"arn:aws:s3:::{params['Bucket']}"
            self.calls.append(Call(function, "s3:PutObject", (f"{bucket}/{presigned}",)))
            return
        action = f"{service}:{model.name}"
        self.calls.append(
            Call(function, _IAM_ACTIONS.get(action, action), _resources(service, params))
        )


def _presigned_post_key() -> str | None:
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "generate_presigned_post" and "Key" in frame.f_locals:
            return str(frame.f_locals["Key"])
        frame = frame.f_back
    return None


@dataclass
class Run:
    client: Client
    provisioned: Provisioned
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, body: str, query: str, headers: dict[str, str] | None = None) -> str:
        answer = self.client.http.post(
            f"/batches{query}",
            headers={**self.headers, "Content-Type": "text/csv", **(headers or {})},
            body=body,
        )
        assert answer.status_code == 202, answer.body
        return str(answer.json_body["batch_id"])

    def upload(self, body: str, dataset: str) -> str:
        data = body.encode()
        answer = self.client.http.post(
            "/uploads",
            headers={**self.headers, "Content-Type": "application/json"},
            body=json.dumps(
                {
                    "dataset": dataset,
                    "filename": "flights.csv",
                    "content_type": "text/csv",
                    "size_bytes": len(data),
                }
            ),
        )
        assert answer.status_code == 201, answer.body
        ticket = answer.json_body
        send_to_ticket(ticket, data)
        return str(ticket["batch_id"])

    def get(self, path: str) -> Any:
        answer = self.client.http.get(path, headers=self.headers)
        assert answer.status_code == 200, (path, answer.body)
        return answer.json_body

    def finish(self, batch_id: str, timeout: float = 60) -> dict[str, Any]:
        poller = make_poller(self.provisioned)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while poller.poll_once(wait_seconds=0):
                pass
            batch: dict[str, Any] = self.get(f"/batches/{batch_id}")
            if batch["status"] in TERMINAL_STATUSES:
                self._settle(batch["execution_arn"], deadline)
                return batch
            time.sleep(0.1)
        raise AssertionError(f"batch {batch_id} did not finish")

    def _settle(self, execution_arn: str, deadline: float) -> None:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.fixture
def recorded(
    fake_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Run, list[Call]]]:
    calls: list[Call] = []
    recorder = Recorder(calls)
    with mock_aws(config=MOTO_CONFIG):
        provisioned = provision_local()
        for name, value in provisioned.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SLUICE_CHUNK_SIZE", "2")
        _, token = ApiKeyRepository(
            boto3.resource("dynamodb", region_name=REGION).Table(
                provisioned.environment["SLUICE_API_KEYS_TABLE"]
            )
        ).create("permissions", [Scope.ADMIN])
        events = boto3.DEFAULT_SESSION.events if boto3.DEFAULT_SESSION else None
        assert events is not None
        events.register("before-parameter-build", recorder)
        apply_environment({})  # the app's clients are created anew, with the hook
        # The API keeps the state machine's definition once read; this run must read it.
        _state_machine_definition.cache_clear()
        try:
            with Client(app.app, stage_name="dev", project_dir=str(ROOT)) as client:
                yield Run(client, provisioned, token), calls
        finally:
            events.unregister("before-parameter-build", recorder)
            uninstall()
            apply_environment({})


def _drive(run: Run) -> None:
    flights = (ROOT / "tests" / "data" / "flights_1000.csv").read_text().splitlines()
    broken = (ROOT / "tests" / "data" / "flights_broken.csv").read_text().splitlines()
    body = "\n".join([flights[0], *flights[1:4], broken[1]]) + "\n"
    good = run.post(body, "?dataset=flights", {"Idempotency-Key": "permissions"})
    assert run.finish(good)["status"] == "COMPLETED_WITH_REJECTS"
    assert run.post(body, "?dataset=flights", {"Idempotency-Key": "permissions"}) == good
    run.get("/batches?limit=5")
    run.get(f"/batches/{good}/records?status=processed")
    run.get(f"/batches/{good}/records?status=rejected")
    run.get(f"/batches/{good}/execution")
    run.get(f"/batches/{good}/chunks")
    run.get(f"/batches/{good}/chunks/0")
    run.get("/datasets")
    run.get("/datasets/flights/records?date=2013-01-01&carrier=UA")
    run.get(f"/batches/{good}/records/2")
    [reject] = run.get(f"/batches/{good}/records?status=rejected")["records"]
    replayed = run.client.http.post(
        f"/batches/{good}/replay",
        headers={**run.headers, "Content-Type": "application/json"},
        body=json.dumps({"records": [{"line": reject["line"], "values": flights_row(flights)}]}),
    )
    assert replayed.status_code == 202, replayed.body
    assert run.finish(replayed.json_body["batch_id"])["status"] == "SUCCEEDED"
    run.get(f"/batches/{good}/records/{reject['line']}")

    uploaded = run.upload(body, "flights")
    assert run.finish(uploaded)["status"] == "COMPLETED_WITH_REJECTS"

    readings = (
        "sensor,taken_at,celsius\nS1,2024-05-01T10:00:00Z,20\nEXPLODE,2024-05-01T11:00:00Z,20\n"
    )
    exploded = run.post(readings, "?dataset=readings")
    assert run.finish(exploded)["status"] == "FAILED"
    retried = run.client.http.post(
        f"/batches/{exploded}/retry", headers={**run.headers, "Content-Type": "application/json"}
    )
    assert retried.status_code == 202, retried.body
    assert run.finish(exploded)["runs"][-1]["status"] == "FAILED"

    vanished = run.post(readings.replace("EXPLODE", "S2"), "?dataset=readings")
    batch = run.get(f"/batches/{vanished}")
    s3 = boto3.client("s3", region_name=REGION)
    s3.delete_object(Bucket=run.provisioned.environment["SLUICE_RAW_BUCKET"], Key=batch["raw_key"])
    assert run.finish(vanished)["status"] == "FAILED"
    run.get("/failures")
    run.get("/usage")
    run.get(f"/audit?batch={exploded}")
    handled = run.client.http.post(
        "/failures/handle",
        headers={**run.headers, "Content-Type": "application/json"},
        body=json.dumps(
            {
                "items": [
                    {"kind": "batch", "id": exploded},
                    {"kind": "chunk", "id": f"{exploded}/0"},
                    {
                        "kind": "rejects",
                        "id": f"{good}/{reject['reasons'][0]['field']}/"
                        f"{reject['reasons'][0]['rule']}",
                    },
                ],
                "note": "seen",
            }
        ),
    )
    assert handled.status_code == 200, handled.body
    _drive_dead_letters(run, vanished)


def _drive_dead_letters(run: Run, vanished: str) -> None:
    """List the DLQs, redrive an ingest message and a failed batch's, discard the rest."""
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(
        QueueUrl=run.provisioned.environment["SLUICE_INGEST_DLQ_URL"],
        MessageBody=json.dumps({"batch_id": vanished}),
    )
    letters = run.get("/dead-letters")["messages"]
    assert {m["queue"] for m in letters} == {"ingest", "pipeline"}, letters
    json_headers = {**run.headers, "Content-Type": "application/json"}
    redriven = run.client.http.post(
        "/dead-letters/redrive",
        headers=json_headers,
        body=json.dumps({"queue": "ingest"}),
    )
    assert redriven.json_body["totals"]["moved"] == 1, redriven.body
    [failed] = [m for m in letters if m["queue"] == "pipeline" and m["batch_id"] == vanished]
    retried = run.client.http.post(
        "/dead-letters/redrive",
        headers=json_headers,
        body=json.dumps({"message_ids": [failed["message_id"]]}),
    )
    assert retried.json_body["totals"]["retried"] == 1, retried.body
    assert run.finish(vanished)["status"] == "FAILED"
    rest = [m["message_id"] for m in letters if m["queue"] == "pipeline" and m is not failed]
    discarded = run.client.http.delete(
        "/dead-letters", headers=json_headers, body=json.dumps({"message_ids": rest}).encode()
    )
    assert discarded.json_body["totals"]["deleted"] == len(rest), discarded.body


def flights_row(lines: list[str]) -> dict[str, str]:
    """The first data row of a flights CSV, as the values of a record."""
    return dict(zip(lines[0].split(","), lines[1].split(","), strict=True))


def _resolver(provisioned: Provisioned) -> Any:
    """Resolve the policies' references to what the local stack created."""
    template = load_template()
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    summaries = cloudformation.list_stack_resources(StackName="sluice")["StackResourceSummaries"]
    values: dict[str, str] = {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
    }
    for name, parameter in template["Parameters"].items():
        values[name] = str(parameter.get("Default", ""))
    for summary in summaries:
        values.update(_values_of(summary))
    machine = provisioned.outputs["StateMachineArn"]
    values["PipelineStateMachine"] = machine
    values["PipelineStateMachine.Name"] = machine.rsplit(":", 1)[1]

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return values[value["Ref"]]
        if "Fn::GetAtt" in value:
            return values[".".join(value["Fn::GetAtt"])]
        return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], value["Fn::Sub"])

    return resolve


def _values_of(summary: StackResourceSummaryTypeDef) -> dict[str, str]:
    """A created resource's ``Ref`` and ``Arn``, the way CloudFormation would give them."""
    logical_id, physical = summary["LogicalResourceId"], summary["PhysicalResourceId"]
    arns = {
        "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}",
        "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical.rsplit('/', 1)[-1]}",
    }
    values = {logical_id: physical}
    if summary["ResourceType"] in arns:
        values[f"{logical_id}.Arn"] = arns[summary["ResourceType"]]
    return values


def _allowed(call: Call, spec: FunctionSpec, resolve: Any) -> bool:
    for statement in role_statements(spec):
        if call.action not in statement["Action"]:
            continue
        patterns = [resolve(resource) for resource in statement["Resource"]]
        if all(any(fnmatch.fnmatchcase(r, p) for p in patterns) for r in call.resources):
            return True
    return False


def test_every_call_each_function_makes_is_allowed_by_its_own_role(
    recorded: tuple[Run, list[Call]],
):
    run, calls = recorded

    _drive(run)

    resolve = _resolver(run.provisioned)
    specs = {spec.logical_id: spec for spec in FUNCTIONS}
    denied = sorted(
        {
            f"{call.function}: {call.action} on {', '.join(call.resources)}"
            for call in calls
            if not _allowed(call, specs[call.function], resolve)
        }
    )
    assert denied == [], "calls the role does not allow:\n" + "\n".join(denied)
    assert {call.function for call in calls} == set(specs), "a function made no call"
    used = {(call.function, call.action) for call in calls}
    unused = sorted(
        f"{spec.logical_id}: {action}"
        for spec in FUNCTIONS
        for statement in spec.statements
        for action in statement["Action"]
        if (spec.logical_id, action) not in used and action not in _GRANTED_NOT_CALLED
    )
    assert unused == [], "granted but never called:\n" + "\n".join(unused)
