"""Smoke test: the packaged resources stack, deployed into moto's CloudFormation.

This is the stack ``make deploy DEPLOY_WITH=chalice`` creates (and the core of the full
template). moto creates its tables, queues, topics, buckets, log group, roles and state
machine (in a backend that does not execute, which is enough here); it skips alarms,
topic subscriptions and bucket policies with a warning and ignores some bucket and
table settings, which ``test_template.py`` and cfn-lint check on the template instead.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from infra.functions import FUNCTIONS
from infra.template import role_output

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.packaging.build import Built

# moto warns again each time it re-reads the stack; what it skips is checked once below.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

REGION = "us-east-1"
MOTO_SKIPS = {
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
}
STACK = "sluice-dev"


@pytest.fixture
def stack(
    fake_aws_env: None, built: Built, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cloudformation.create_stack(
                StackName=STACK,
                TemplateBody=built.packaged.resources_template.read_text(),
                Capabilities=["CAPABILITY_IAM"],
            )
        skipped = {m for w in caught for m in re.findall(r"parse (AWS::\S+) but", str(w.message))}
        assert skipped <= MOTO_SKIPS, f"moto skipped more than expected: {skipped - MOTO_SKIPS}"
        described = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
        yield {
            "status": described["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]},
            "resources": {
                r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cloudformation.list_stack_resources(StackName=STACK)[
                    "StackResourceSummaries"
                ]
            },
        }


def test_the_stack_creates_the_tables_on_demand_with_their_keys_and_indexes(stack: dict[str, Any]):
    assert stack["status"] == "CREATE_COMPLETE"
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    expected = {
        "BatchesTableName": (["batch_id", "item"], {"by-received"}),
        "RecordsTableName": (["batch_id", "record_key"], set()),
        "ApiKeysTableName": (["key_id"], set()),
    }
    for output, (keys, indexes) in expected.items():
        table = dynamodb.describe_table(TableName=stack["outputs"][output])["Table"]
        assert [k["AttributeName"] for k in table["KeySchema"]] == keys
        assert {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])} == indexes
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_the_ingest_queue_is_encrypted_and_dead_letters_after_five_receives(
    stack: dict[str, Any],
):
    sqs = boto3.client("sqs", region_name=REGION)
    outputs = stack["outputs"]
    ingest = sqs.get_queue_attributes(QueueUrl=outputs["IngestQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    dead_letter = sqs.get_queue_attributes(
        QueueUrl=outputs["IngestDeadLetterQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert outputs["IngestQueueUrl"].endswith("/sluice-ingest")
    assert int(ingest["VisibilityTimeout"]) == 360
    assert ingest["SqsManagedSseEnabled"] == "true"
    assert json.loads(ingest["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letter["QueueArn"],
        "maxReceiveCount": 5,
    }
    assert dead_letter["SqsManagedSseEnabled"] == "true"
    assert int(dead_letter["MessageRetentionPeriod"]) == 14 * 24 * 3600
    pipeline_dlq = sqs.get_queue_attributes(
        QueueUrl=outputs["PipelineDeadLetterQueueUrl"], AttributeNames=["SqsManagedSseEnabled"]
    )["Attributes"]
    assert pipeline_dlq["SqsManagedSseEnabled"] == "true"


def test_the_topics_and_encrypted_buckets_exist(stack: dict[str, Any]):
    sns = boto3.client("sns", region_name=REGION)
    topics = {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    assert {
        stack["outputs"]["PipelineEventsTopicArn"],
        stack["outputs"]["AlarmsTopicArn"],
    } <= topics
    s3 = boto3.client("s3", region_name=REGION)
    for output in ("RawBucketName", "ProcessedBucketName", "DashboardBucketName"):
        encryption = s3.get_bucket_encryption(Bucket=stack["outputs"][output])
        rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert stack["outputs"]["DashboardWebsiteURL"].startswith("http://")


def test_the_state_machine_and_its_error_log_group_exist(stack: dict[str, Any]):
    # moto's CloudFormation keeps no definition from a ``Definition`` object (it reads only
    # ``DefinitionString``); the local runtime and test_template.py cover the definition.
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.describe_state_machine(stateMachineArn=stack["outputs"]["StateMachineArn"])
    assert machine["name"] == "sluice-dev-pipeline"
    assert machine["roleArn"].split("/")[-1] == stack["resources"]["StateMachineRole"]
    logs = boto3.client("logs", region_name=REGION)
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [
        ("/aws/vendedlogs/states/sluice-dev-pipeline", 30)
    ]


def test_every_function_gets_a_role_scoped_to_the_stacks_own_resources(stack: dict[str, Any]):
    iam = boto3.client("iam", region_name=REGION)
    processed_bucket = stack["outputs"]["ProcessedBucketName"]
    for spec in FUNCTIONS:
        role_arn = stack["outputs"][role_output(spec)]
        role_name = role_arn.rsplit("/", 1)[1]
        (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        document = json.dumps(
            iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        )
        assert "${" not in document, f"{spec.role_id} has unresolved references: {document}"
        name = (
            "sluice-dev"
            if spec.chalice_name == "api_handler"
            else f"sluice-dev-{spec.chalice_name}"
        )
        assert f":log-group:/aws/lambda/{name}:*" in document
    split_role = stack["outputs"][role_output(FUNCTIONS[3])].rsplit("/", 1)[1]
    assert FUNCTIONS[3].logical_id == "Split"
    split_policy = json.dumps(
        iam.get_role_policy(RoleName=split_role, PolicyName="least-privilege")
    )
    assert f"arn:aws:s3:::{processed_bucket}/chunks/*" in split_policy
