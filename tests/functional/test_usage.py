"""The local runtime's meter over a running moto server: requests counted as AWS bills them."""

from __future__ import annotations

import copy
import json
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests
from moto.core.config import default_user_config

from devserver.ports import free_port
from devserver.pricing import cost
from devserver.runtime import MOTO_CONFIG, REGION
from devserver.usage import USAGE_PATH, Meter, MeteredMotoServer, count_transitions

if TYPE_CHECKING:
    from collections.abc import Iterator

ROLE = "arn:aws:iam::123456789012:role/sluice-test"


@pytest.fixture(scope="module")
def meter() -> Meter:
    return Meter()


@pytest.fixture(scope="module")
def endpoint(meter: Meter) -> Iterator[str]:
    port = free_port()
    server = MeteredMotoServer(meter=meter, ip_address="127.0.0.1", port=port, verbose=False)
    server.answer_costs_with(cost)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # The server is moto in this process: its config and backends are the other tests'
    # too, so both are put back as they were.
    config = copy.deepcopy(default_user_config)
    requests.post(f"{url}/moto-api/config", data=json.dumps(MOTO_CONFIG), timeout=10)
    try:
        yield url
    finally:
        requests.post(f"{url}/moto-api/reset", timeout=10)
        requests.post(f"{url}/moto-api/config", data=json.dumps(config), timeout=10)
        server.stop()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_s3_requests_are_counted_by_operation_with_the_bytes_written(meter: Meter, endpoint: str):
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="metered")
    before = meter.snapshot()

    s3.put_object(Bucket="metered", Key="a/1", Body=b"x" * 3000)
    s3.put_object(Bucket="metered", Key="a/2", Body=b"y" * 1000)
    s3.get_object(Bucket="metered", Key="a/1")
    s3.head_object(Bucket="metered", Key="a/2")
    s3.list_objects_v2(Bucket="metered", Prefix="a/")
    s3.delete_objects(Bucket="metered", Delete={"Objects": [{"Key": "a/1"}, {"Key": "a/2"}]})

    after = meter.snapshot()
    counted = {
        op: after["requests"].get(op, 0) - before["requests"].get(op, 0)
        for op in ("s3:PutObject", "s3:GetObject", "s3:HeadObject", "s3:ListObjects")
    }
    assert counted == {
        "s3:PutObject": 2,
        "s3:GetObject": 1,
        "s3:HeadObject": 1,
        "s3:ListObjects": 1,
    }
    assert (
        after["requests"]["s3:DeleteObjects"] - before["requests"].get("s3:DeleteObjects", 0) == 1
    )
    assert after["s3_bytes_written"] - before["s3_bytes_written"] == 4000


def test_dynamodb_request_units_follow_item_sizes_and_transactions_count_twice(
    meter: Meter, endpoint: str
):
    dynamodb = _client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName="metered",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    before = meter.snapshot()

    dynamodb.put_item(TableName="metered", Item={"pk": {"S": "small"}})
    dynamodb.put_item(TableName="metered", Item={"pk": {"S": "large"}, "v": {"S": "z" * 2500}})
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "metered", "Item": {"pk": {"S": "t1"}}}},
            {"Put": {"TableName": "metered", "Item": {"pk": {"S": "t2"}}}},
        ]
    )
    middle = meter.snapshot()
    dynamodb.get_item(TableName="metered", Key={"pk": {"S": "small"}}, ConsistentRead=True)
    dynamodb.get_item(TableName="metered", Key={"pk": {"S": "small"}})

    after = meter.snapshot()
    # 1 unit for the small item, 3 for the 2.5 KB one, 2 × 2 for the transaction.
    assert middle["dynamodb_write_units"] - before["dynamodb_write_units"] == 8
    # A consistent read of up to 4 KB is one unit; an eventually consistent one half.
    assert after["dynamodb_read_units"] - middle["dynamodb_read_units"] == 1.5
    assert after["requests"]["dynamodb:TransactWriteItems"] == 1


def test_queue_and_topic_requests_are_counted(meter: Meter, endpoint: str):
    sqs, sns = _client("sqs", endpoint), _client("sns", endpoint)
    queue = sqs.create_queue(QueueName="metered")["QueueUrl"]
    topic = sns.create_topic(Name="metered")["TopicArn"]
    before = meter.snapshot()["requests"]

    sqs.send_message(QueueUrl=queue, MessageBody="one")
    sqs.receive_message(QueueUrl=queue)
    sns.publish(TopicArn=topic, Message="one")

    after = meter.snapshot()["requests"]
    for operation in ("sqs:SendMessage", "sqs:ReceiveMessage", "sns:Publish"):
        assert after[operation] - before.get(operation, 0) == 1, operation


def test_state_transitions_are_counted_for_every_state_entered(
    meter: Meter, endpoint: str, monkeypatch: pytest.MonkeyPatch
):
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    # Restored after the test: the patch is the runtime's, not this process's.
    monkeypatch.setattr(CommonStateField, "_eval_body", CommonStateField._eval_body)
    count_transitions(meter)
    definition = {
        "StartAt": "One",
        "States": {
            "One": {"Type": "Pass", "Next": "Twice"},
            "Twice": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "Each",
                    "States": {"Each": {"Type": "Pass", "End": True}},
                },
                "End": True,
            },
        },
    }
    sfn = _client("stepfunctions", endpoint)
    machine = sfn.create_state_machine(
        name="metered", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    before = meter.snapshot()["state_transitions"]

    execution = sfn.start_execution(stateMachineArn=machine, input='{"items": [1, 2]}')
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)

    # One, Twice, and Each once per item.
    assert meter.snapshot()["state_transitions"] - before == 4


def test_the_usage_endpoint_answers_the_totals_with_their_cost(endpoint: str):
    answer = requests.get(f"{endpoint}{USAGE_PATH}", timeout=10)

    assert answer.status_code == 200
    document = answer.json()
    assert document["usage"]["requests"]["s3:PutObject"] >= 2
    assert document["cost"]["total"] == pytest.approx(sum(document["cost"]["by_service"].values()))
    assert document["cost"]["prices"]["region"] == "us-east-1"
