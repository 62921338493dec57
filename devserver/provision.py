"""Create the pipeline's resources in moto from the deploy template itself.

moto's CloudFormation creates the buckets, tables, queues, topics and the EventBridge
rule from ``infra/resources.json``. Its state machine resource lands in a backend that
does not execute, so the state machine is created through the Step Functions API
instead, from the same ASL file, with ``DefinitionSubstitutions`` resolved by the stack
(each becomes a stack output). moto's CloudFormation ignores a bucket's
``NotificationConfiguration``, so the raw bucket's "send events to EventBridge" setting
is read from the template and applied through the S3 API. The Lambda functions exist
only as names for the dispatcher; what refers to the state machine (some roles, an
alarm) is left out, and so are the resource types moto's CloudFormation only warns
about (alarms, subscriptions, bucket and queue policies: moto enforces no policy).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.template import STATE_MACHINE_ID, load_template, settings_environment
from stages import STATE_FUNCTIONS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

__all__ = ["FUNCTION_PREFIX", "Provisioned", "provision"]

FUNCTION_PREFIX = "sluice-dev-"
_SUBSTITUTION_OUTPUT = "Substitution"
# moto's CloudFormation skips these with a warning; locally nothing needs them.
_UNSUPPORTED_TYPES = frozenset(
    {
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::Subscription",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
    }
)


@dataclass(frozen=True)
class Provisioned:
    """What was created: the stack's outputs and the functions' environment."""

    outputs: dict[str, str]
    environment: dict[str, str]


def provision(
    cloudformation: CloudFormationClient,
    stepfunctions: SFNClient,
    lambda_client: LambdaClient,
    iam: IAMClient,
    s3: S3Client,
    stack_name: str = "sluice",
) -> Provisioned:
    """Create the stack, the state machine and the function names; return the outputs."""
    template = load_template()
    notifications = _bucket_notifications(template)
    machine = template["Resources"].pop(STATE_MACHINE_ID)["Properties"]
    _drop_local_extras(template)
    for name, value in machine["DefinitionSubstitutions"].items():
        template["Outputs"][f"{_SUBSTITUTION_OUTPUT}{name}"] = {"Value": copy.deepcopy(value)}
    template["Outputs"]["StateMachineRoleArn"] = {"Value": machine["RoleArn"]}
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    for logical_id, configuration in notifications.items():
        s3.put_bucket_notification_configuration(
            Bucket=physical[logical_id], NotificationConfiguration=configuration
        )
    definition = json.dumps(machine["Definition"])
    for name in machine["DefinitionSubstitutions"]:
        definition = definition.replace("${" + name + "}", outputs[f"{_SUBSTITUTION_OUTPUT}{name}"])
    outputs["StateMachineArn"] = stepfunctions.create_state_machine(
        name=f"{stack_name}-pipeline",
        definition=definition,
        roleArn=outputs["StateMachineRoleArn"],
        type="STANDARD",
    )["stateMachineArn"]
    _create_functions(lambda_client, iam, (FUNCTION_PREFIX + n for n in STATE_FUNCTIONS))
    return Provisioned(outputs=outputs, environment=settings_environment(outputs))


def _bucket_notifications(template: dict[str, Any]) -> dict[str, Any]:
    """The buckets whose template sends their events to EventBridge, as S3 API configurations."""
    configurations: dict[str, Any] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        notification = resource["Properties"].get("NotificationConfiguration", {})
        if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            configurations[logical_id] = {"EventBridgeConfiguration": {}}
    return configurations


def _drop_local_extras(template: dict[str, Any]) -> None:
    """Remove what names the state machine (created outside the stack) and what moto skips."""
    resources, outputs = template["Resources"], template["Outputs"]
    for logical_id in [
        name
        for name, resource in resources.items()
        if resource["Type"] in _UNSUPPORTED_TYPES or _names(resource, STATE_MACHINE_ID)
    ]:
        del resources[logical_id]
    known = set(resources) | set(template.get("Parameters", {}))
    for output in [name for name, value in outputs.items() if not _resolvable(value, known)]:
        del outputs[output]


def _names(value: Any, logical_id: str) -> bool:
    """Whether ``value`` refers to ``logical_id`` (``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``)."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        if value.get("Fn::GetAtt", [None])[0] == logical_id:
            return True
        sub = value.get("Fn::Sub")
        if isinstance(sub, str) and (
            "${" + logical_id + "}" in sub or "${" + logical_id + "." in sub
        ):
            return True
        return any(_names(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, logical_id) for v in value)
    return False


def _resolvable(value: Any, known: set[str]) -> bool:
    if isinstance(value, dict):
        ref = value.get("Ref")
        if isinstance(ref, str) and not ref.startswith("AWS::") and ref not in known:
            return False
        target = value.get("Fn::GetAtt", [None])[0]
        if target is not None and target not in known:
            return False
        return all(_resolvable(v, known) for v in value.values())
    if isinstance(value, list):
        return all(_resolvable(v, known) for v in value)
    return True


def _create_functions(lambda_client: LambdaClient, iam: IAMClient, names: Iterable[str]) -> None:
    role = iam.create_role(
        RoleName="sluice-local-lambda",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "# the local runtime dispatches to the real handlers\n")
    code: Any = {"ZipFile": archive.getvalue()}
    for name in names:
        lambda_client.create_function(
            FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code=code
        )
