"""How ``make package`` wires Chalice's functions to the merged resources, on small templates."""

from __future__ import annotations

import copy
import sys
from typing import TYPE_CHECKING, Any

import pytest

from infra.package import (
    DASHBOARD_ORIGIN_PLACEHOLDER,
    PackagingError,
    find_lambda_python,
    merge_template,
    wire_functions,
)

if TYPE_CHECKING:
    from pathlib import Path


def _function(handler: str, events: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Runtime": "python3.12",
        "Handler": handler,
        "Role": "arn:aws:iam::000000000000:role/replaced-by-infra-package",
    }
    if events:
        properties["Events"] = events
    return {"Type": "AWS::Serverless::Function", "Properties": properties}


def _sam(**functions: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(merge_template("dev"))
    template["Resources"].update(functions)
    return template


def _sqs_event() -> dict[str, Any]:
    return {
        "Source": {
            "Type": "SQS",
            "Properties": {
                "Queue": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:sluice-ingest"},
                "BatchSize": 10,
            },
        }
    }


def test_each_function_gets_its_role_its_name_and_partial_batch_responses():
    sam = _sam(
        StartBatches=_function("app.start_batches", _sqs_event()), Split=_function("app.split")
    )

    wire_functions(sam)

    starter = sam["Resources"]["StartBatches"]["Properties"]
    assert starter["Role"] == {"Fn::GetAtt": ["StartBatchesRole", "Arn"]}
    assert starter["FunctionName"] == {"Fn::Sub": "${FunctionNamePrefix}start_batches"}
    source = starter["Events"]["Source"]["Properties"]
    assert source["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sam["Resources"]["Split"]["Properties"]["Role"] == {"Fn::GetAtt": ["SplitRole", "Arn"]}


def test_a_function_without_a_policy_fails_the_package():
    sam = _sam(Split=_function("app.split"), ExportEverything=_function("app.export"))

    with pytest.raises(PackagingError, match=r"without a policy: \['ExportEverything'\]"):
        wire_functions(sam)


def test_a_queue_consumer_whose_spec_names_no_queue_fails_the_package():
    sam = _sam(Split=_function("app.split", _sqs_event()))

    with pytest.raises(PackagingError, match="Split.Source reads a queue"):
        wire_functions(sam)


def test_roles_and_alarms_of_functions_the_app_does_not_define_are_left_out():
    sam = _sam(Split=_function("app.split"))

    wire_functions(sam)

    resources = sam["Resources"]
    assert {"SplitRole", "SplitErrorsAlarm", "SplitThrottlesAlarm"} <= set(resources)
    for absent in ("ApiKeyAuthorizerRole", "ApiKeyAuthorizerErrorsAlarm", "StoreThrottlesAlarm"):
        assert absent not in resources
    assert "SplitRoleArn" in sam["Outputs"]
    assert "StoreRoleArn" not in sam["Outputs"]


def test_the_stand_in_origin_becomes_the_dashboard_buckets_website_url():
    sam = _sam(Split=_function("app.split"))
    sam["Resources"]["RestAPI"] = {
        "Type": "AWS::Serverless::Api",
        "Properties": {
            "DefinitionBody": {
                "x-headers": {
                    "method.response.header.Access-Control-Allow-Origin": (
                        f"'{DASHBOARD_ORIGIN_PLACEHOLDER}'"
                    )
                }
            }
        },
    }

    wire_functions(sam)

    api = sam["Resources"]["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True
    assert api["DefinitionBody"]["x-headers"] == {
        "method.response.header.Access-Control-Allow-Origin": {
            "Fn::Sub": "'${DashboardBucket.WebsiteURL}'"
        }
    }


def test_the_lambda_python_can_be_named_and_a_missing_one_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    python = find_lambda_python()
    monkeypatch.setenv("LAMBDA_PYTHON", str(python))
    assert find_lambda_python() == python

    monkeypatch.setenv("LAMBDA_PYTHON", sys.executable)  # 3.11: the wrong version
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setattr("infra.package._SYSTEM_PYTHONS", ())
    with pytest.raises(PackagingError, match="set LAMBDA_PYTHON"):
        find_lambda_python()
