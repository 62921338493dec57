"""The resources template, with the ASL inserted and one role and two alarms per function.

``infra/resources.json`` declares the pipeline's shared resources; this module inserts
the ASL file into its state machine (so the definition the local runtime runs and the
one deployed are the same file), derives from ``stages.STATE_FUNCTIONS`` the ARN
substitutions the ASL names (``${SplitFunctionArn}`` ...) and the state machine's
permission to invoke exactly those functions, and adds, for every function in
``infra/functions.py``, its IAM role, its error and throttle alarms and its role's ARN
as an output. The result
is the resources stack that ``chalice deploy`` runs against, what the local runtime
creates in moto, and the core of the merge template ``chalice package`` folds in.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from infra.functions import (
    FUNCTIONS,
    XRAY_MANAGED_POLICY,
    FunctionSpec,
    function_name,
    role_statements,
)
from stages import STATE_FUNCTIONS, state_name

__all__ = [
    "ALARM_METRICS",
    "ASL_PATH",
    "STATE_MACHINE_ID",
    "TEMPLATE_PATH",
    "deploy_environment",
    "load_definition",
    "load_template",
    "role_output",
    "settings_environment",
    "state_function_arns",
]

ROOT = Path(__file__).resolve().parent.parent
ASL_PATH = ROOT / "statemachine" / "pipeline.asl.json"
TEMPLATE_PATH = ROOT / "infra" / "resources.json"
STATE_MACHINE_ID = "PipelineStateMachine"
ALARMS_TOPIC_ID = "AlarmsTopic"

# Stack output → the SLUICE_* variable every function reads (shared/settings.py).
_OUTPUT_TO_SETTING = {
    "BatchesTableName": "SLUICE_BATCHES_TABLE",
    "RecordsTableName": "SLUICE_RECORDS_TABLE",
    "ApiKeysTableName": "SLUICE_API_KEYS_TABLE",
    "RawBucketName": "SLUICE_RAW_BUCKET",
    "ProcessedBucketName": "SLUICE_PROCESSED_BUCKET",
    "IngestQueueUrl": "SLUICE_INGEST_QUEUE_URL",
    "IngestDeadLetterQueueUrl": "SLUICE_INGEST_DLQ_URL",
    "PipelineDeadLetterQueueUrl": "SLUICE_PIPELINE_DLQ_URL",
    "StateMachineArn": "SLUICE_STATE_MACHINE_ARN",
}
# What the deployed functions get besides the settings: the dashboard's origin (CORS, read
# by chalicelib/api.py) and Powertools' names for logs, metrics and traces.
DASHBOARD_ORIGIN_OUTPUT = "DashboardWebsiteURL"
DASHBOARD_ORIGIN_VARIABLE = "SLUICE_DASHBOARD_ORIGIN"
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "sluice",
    "POWERTOOLS_METRICS_NAMESPACE": "Sluice",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    # Lambda's active tracing traces every invocation without the X-Ray SDK; the SDK's
    # own subsegments (per stage, per AWS call) cost ~170 ms of every cold start
    # (bench/cold_start.py). "false" turns them on (shared/observability.py).
    "POWERTOOLS_TRACE_DISABLED": "true",
}
# Cold start: pydantic looks for plugins through importlib.metadata at its first model
# (~20 ms of scanning every installed distribution); Sluice uses none.
RUNTIME_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
ALARM_METRICS = ("Errors", "Throttles")
_FUNCTION_ARN = (
    "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}"
    ":function:${{FunctionNamePrefix}}{name}"
)
_LAMBDA_ALARMS = {
    "Errors": "{name} failed (retried ones too)",
    "Throttles": "{name} was throttled",
}


@functools.cache
def load_definition() -> dict[str, Any]:
    """Return the state machine's ASL definition."""
    definition: dict[str, Any] = json.loads(ASL_PATH.read_text())
    return definition


def state_function_arns() -> dict[str, Any]:
    """The ARN of each function the ASL invokes, by its substitution name (``SplitFunctionArn``)."""
    return {
        f"{state_name(function)}FunctionArn": {"Fn::Sub": _FUNCTION_ARN.format(name=function)}
        for function in STATE_FUNCTIONS
    }


def load_template() -> dict[str, Any]:
    """Return the resources template: ASL inserted, a role and alarms for every function."""
    template: dict[str, Any] = json.loads(TEMPLATE_PATH.read_text())
    machine = template["Resources"][STATE_MACHINE_ID]["Properties"]
    machine["Definition"] = copy.deepcopy(load_definition())
    arns = state_function_arns()
    machine["DefinitionSubstitutions"] = {**arns, **machine["DefinitionSubstitutions"]}
    role = template["Resources"][machine["RoleArn"]["Fn::GetAtt"][0]]
    role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].insert(
        0,
        {
            "Sid": "InvokeStages",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": list(arns.values()),
        },
    )
    for spec in FUNCTIONS:
        template["Resources"].update(function_resources(spec))
        template["Outputs"][role_output(spec)] = {"Value": {"Fn::GetAtt": [spec.role_id, "Arn"]}}
    return template


def role_output(spec: FunctionSpec) -> str:
    """Name of the output holding the function's role ARN (``chalice deploy`` needs it)."""
    return f"{spec.role_id}Arn"


def function_resources(spec: FunctionSpec) -> dict[str, Any]:
    """Return the function's role and its alarms, keyed by logical id."""
    resources: dict[str, Any] = {
        spec.role_id: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": {"Fn::Sub": f"Runs {spec.deployed_name}"},
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [XRAY_MANAGED_POLICY],
                "Policies": [
                    {
                        "PolicyName": "least-privilege",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": role_statements(spec),
                        },
                    }
                ],
            },
        }
    }
    for metric, description in _LAMBDA_ALARMS.items():
        resources[f"{spec.logical_id}{metric}Alarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": {"Fn::Sub": description.format(name=spec.deployed_name)},
                "Namespace": "AWS/Lambda",
                "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": function_name(spec)}],
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": ALARMS_TOPIC_ID}],
            },
        }
    return resources


def settings_environment(outputs: dict[str, str]) -> dict[str, str]:
    """Map the stack's outputs to the environment variables the functions read."""
    return {setting: outputs[output] for output, setting in _OUTPUT_TO_SETTING.items()}


def deploy_environment(values: dict[str, Any]) -> dict[str, Any]:
    """Return every deployed function's environment from outputs (or their template values).

    ``values`` maps output names to values: strings from a deployed stack, or the
    outputs' ``Value`` expressions when the environment goes into a template.
    """
    environment = {setting: values[output] for output, setting in _OUTPUT_TO_SETTING.items()}
    environment[DASHBOARD_ORIGIN_VARIABLE] = values[DASHBOARD_ORIGIN_OUTPUT]
    environment.update(POWERTOOLS_ENVIRONMENT)
    environment.update(RUNTIME_ENVIRONMENT)
    return environment
