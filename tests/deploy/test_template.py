"""The packaged template, walked: least privilege, dead-letter queues, closed buckets, alarms.

Every rule is checked over whatever the template holds (every function, queue, bucket
and alarm), so a function or queue added later is held to the same rules without a
change here. ``built`` is ``make package``'s output (``tests/packaging/build.py``).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from infra.functions import API_HANDLER, FUNCTIONS, XRAY_MANAGED_POLICY
from infra.template import ASL_PATH
from shared.settings import Settings

if TYPE_CHECKING:
    from tests.packaging.build import Built

FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
# Services whose actions must name their resources (never "*").
SCOPED_SERVICES = {"s3", "dynamodb", "sqs", "sns", "states", "lambda", "logs"}
# Actions AWS only accepts on "*": X-Ray's writes and the state machine's log delivery.
STAR_ONLY_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
MOVE_TASK_ACTIONS = {"sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"}
# What the dead-letter routes do to a dead-letter queue: peek, redrive (or move), discard.
DEAD_LETTER_ACTIONS = {
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    *MOVE_TASK_ACTIONS,
}
MIN_MAX_RECEIVE_COUNT = 5
VISIBILITY_PER_TIMEOUT = 6


def _of_type(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] in types}


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in _of_type(template, *FUNCTION_TYPES).items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _names_resource(value: Any, resources: dict[str, Any]) -> bool:
    """Whether an ARN expression points at one of the template's own resources.

    Functions and the state machine have fixed names (``${FunctionNamePrefix}<name>``), so
    an ARN or log group built from one of those names counts as well (the state machine's
    role names its own machine that way: a reference would be a circular dependency).
    """
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"] in resources
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0] in resources
        if "Fn::Sub" in value:
            arn = value["Fn::Sub"]
            names = re.findall(r"\$\{([A-Za-z0-9]+)[.}]", arn)
            if any(name in resources for name in names):
                return True
            functions = {
                r["Properties"]["FunctionName"]["Fn::Sub"]
                for r in resources.values()
                if r["Type"] in FUNCTION_TYPES
            }
            machines = {
                r["Properties"]["StateMachineName"]["Fn::Sub"]
                for r in resources.values()
                if r["Type"] == "AWS::StepFunctions::StateMachine"
            }
            return any(
                arn.endswith(f":function:{name}")
                or arn.endswith(f":log-group:/aws/lambda/{name}:*")
                for name in functions
            ) or any(
                arn.endswith((f":stateMachine:{name}", f":execution:{name}/*")) for name in machines
            )
    return False


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_every_function_has_its_own_role_with_an_explicit_least_privilege_policy(built: Built):
    resources = built.sam["Resources"]
    functions = _functions(built.sam)
    assert len(functions) >= len(FUNCTIONS), "every listed function should be in the template"
    roles_used: dict[str, str] = {}
    for name, properties in functions.items():
        assert "Policies" not in properties, f"{name} adds SAM policies beside its role"
        role_ref = properties["Role"]
        assert isinstance(role_ref, dict), f"{name}'s role is not one of the template's"
        assert "Fn::GetAtt" in role_ref, f"{name}'s role is not one of the template's"
        role_id = role_ref["Fn::GetAtt"][0]
        assert role_id != "DefaultRole", f"{name} uses Chalice's generated role"
        assert role_id not in roles_used, f"{name} shares {role_id} with {roles_used.get(role_id)}"
        roles_used[role_id] = name
        role = resources[role_id]
        assert role["Type"] == "AWS::IAM::Role"
        # Only AWS's X-Ray write policy (its actions accept no resource but "*").
        assert role["Properties"].get("ManagedPolicyArns") == [XRAY_MANAGED_POLICY], role_id
        principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        assert principal == {"Service": "lambda.amazonaws.com"}
        statements = _statements(role)
        assert statements, f"{role_id} allows nothing"
        for statement in statements:
            _assert_least_privilege(role_id, statement, resources)


def _assert_least_privilege(role_id: str, statement: dict[str, Any], resources: dict[str, Any]):
    assert statement["Effect"] == "Allow"
    actions = _as_list(statement["Action"])
    for action in actions:
        assert "*" not in action, f"{role_id} allows the wildcard action {action}"
    targets = _as_list(statement["Resource"])
    if "*" in targets:
        star_actions = set(actions) - STAR_ONLY_ACTIONS
        assert not star_actions, f"{role_id} allows {sorted(star_actions)} on every resource"
        return
    scoped = {action.split(":")[0] for action in actions} & SCOPED_SERVICES
    assert scoped, f"{role_id}: {actions} on named resources, but not a scoped service"
    for target in targets:
        assert _names_resource(target, resources), (
            f"{role_id}: {actions} on {target}, which is not a resource of this stack"
        )


def test_the_state_machine_role_may_invoke_exactly_the_functions_its_definition_names(
    built: Built,
):
    resources = built.sam["Resources"]
    machine = resources["PipelineStateMachine"]["Properties"]
    role = resources[machine["RoleArn"]["Fn::GetAtt"][0]]
    statements = _statements(role)
    for statement in statements:
        _assert_least_privilege("StateMachineRole", statement, resources)
    invoke = [s for s in statements if "lambda:InvokeFunction" in _as_list(s["Action"])]
    invocable = {json.dumps(r, sort_keys=True) for s in invoke for r in _as_list(s["Resource"])}
    substituted = {
        json.dumps(value, sort_keys=True)
        for key, value in machine["DefinitionSubstitutions"].items()
        if key.endswith("FunctionArn")
    }
    assert invocable == substituted


def test_every_function_is_traced_logged_named_and_configured(built: Built):
    resources = built.sam["Resources"]
    settings = {
        f"SLUICE_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if field.is_required()
    }
    environment = built.sam["Globals"]["Function"]["Environment"]["Variables"]
    assert settings <= set(environment), f"missing settings: {settings - set(environment)}"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= set(environment)
    log_groups = {
        json.dumps(r["Properties"]["LogGroupName"]): r["Properties"]
        for r in _of_type(built.sam, "AWS::Logs::LogGroup").values()
    }
    for name, properties in _functions(built.sam).items():
        assert properties["Tracing"] == "Active", name
        function_name = properties["FunctionName"]["Fn::Sub"]
        assert function_name == "${ApiFunctionName}" or function_name.startswith(
            "${FunctionNamePrefix}"
        ), name
        group = log_groups.get(json.dumps({"Fn::Sub": f"/aws/lambda/{function_name}"}))
        assert group is not None, f"{name} has no log group"
        assert group["RetentionInDays"] > 0
    assert resources["RestAPI"]["Properties"]["TracingEnabled"] is True


def test_the_state_machine_runs_the_definition_in_statemachine_traced_and_logged(built: Built):
    machine = built.sam["Resources"]["PipelineStateMachine"]["Properties"]
    definition = json.loads(ASL_PATH.read_text())
    assert machine["Definition"] == definition, "the template's ASL differs from statemachine/"
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(definition)))
    assert set(machine["DefinitionSubstitutions"]) == placeholders
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] in {"ERROR", "ALL"}
    group_id = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert built.sam["Resources"][group_id]["Properties"]["RetentionInDays"] > 0


def test_every_queue_is_encrypted_and_drains_into_an_alarmed_dead_letter_queue(built: Built):
    queues = _of_type(built.sam, "AWS::SQS::Queue")
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in _of_type(built.sam, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Namespace"] == "AWS/SQS"
    }
    dead_letter = {k for k in queues if k.endswith("DeadLetterQueue")}
    assert dead_letter
    for name, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") or properties.get("KmsMasterKeyId"), name
        if name in dead_letter:
            assert name in alarmed, f"no alarm on {name}"
            continue
        redrive = properties.get("RedrivePolicy")
        assert redrive, f"{name} has no dead-letter queue"
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in dead_letter
        assert redrive["maxReceiveCount"] >= MIN_MAX_RECEIVE_COUNT


def test_dead_letters_are_sent_by_the_state_machine_and_handled_only_by_the_api(built: Built):
    """Only the dead-letter routes read, move or delete dead letters; only Catch sends one."""
    resources = built.sam["Resources"]
    queues = _of_type(built.sam, "AWS::SQS::Queue")
    dead_letter = {k for k in queues if k.endswith("DeadLetterQueue")}
    source_of = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]: name
        for name, q in queues.items()
        if "RedrivePolicy" in q["Properties"]
    }
    api_role = next(spec.role_id for spec in FUNCTIONS if spec.chalice_name == API_HANDLER)
    machine_role = resources["PipelineStateMachine"]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    handled: set[str] = set()
    api_may: dict[str, set[str]] = {}
    for role_id, role in _of_type(built.sam, "AWS::IAM::Role").items():
        for statement in _statements(role):
            actions = set(_as_list(statement["Action"]))
            for queue in _queue_ids(statement) & dead_letter:
                if role_id == machine_role:
                    assert actions == {"sqs:SendMessage"}, (queue, actions)
                    continue
                assert role_id == api_role, f"{role_id} may {sorted(actions)} on {queue}"
                assert actions <= DEAD_LETTER_ACTIONS, (queue, actions - DEAD_LETTER_ACTIONS)
                handled.add(queue)
            if role_id == api_role:
                for queue in _queue_ids(statement):
                    api_may.setdefault(queue, set()).update(actions)
    assert handled == dead_letter, f"no route can handle {dead_letter - handled}"
    for queue in dead_letter:
        if MOVE_TASK_ACTIONS & api_may[queue]:
            # A message move task needs a source queue to move to, and may send to it.
            assert queue in source_of, f"{queue} is no queue's dead-letter queue"
            assert "sqs:SendMessage" in api_may.get(source_of[queue], set()), queue


def _queue_ids(statement: dict[str, Any]) -> set[str]:
    return {
        target["Fn::GetAtt"][0]
        for target in _as_list(statement["Resource"])
        if isinstance(target, dict) and "Fn::GetAtt" in target
    }


def test_queue_consumers_report_partial_batches_and_fit_the_visibility_timeout(built: Built):
    queues = _of_type(built.sam, "AWS::SQS::Queue")
    consumers = 0
    for name, properties in _functions(built.sam).items():
        for event in properties.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            consumers += 1
            source = event["Properties"]
            assert source.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], name
            queue_id = source["Queue"]["Fn::GetAtt"][0]
            visibility = queues[queue_id]["Properties"]["VisibilityTimeout"]
            assert visibility >= VISIBILITY_PER_TIMEOUT * properties["Timeout"], (
                f"{queue_id}'s visibility timeout {visibility} s is under 6 x {name}'s timeout"
            )
    assert consumers >= 1


def test_buckets_are_encrypted_and_closed_except_the_static_website(built: Built):
    resources = built.sam["Resources"]
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of_type(built.sam, "AWS::S3::BucketPolicy").values()
    }
    websites = 0
    for name, bucket in _of_type(built.sam, "AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert properties["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": "BucketOwnerEnforced"}
        ]
        block = properties["PublicAccessBlockConfiguration"]
        statements = policies.get(name, [])
        if "WebsiteConfiguration" in properties:
            websites += 1
            assert block["BlockPublicAcls"] and block["IgnorePublicAcls"]
            public = [s for s in statements if s.get("Principal") == "*" and s["Effect"] == "Allow"]
            assert [_as_list(s["Action"]) for s in public] == [["s3:GetObject"]], (
                f"{name} should only serve its files"
            )
            continue
        assert all(block.values()) and len(block) == 4, f"{name} is not closed to the public"
        tls = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert tls, f"{name} accepts plain HTTP"
    assert websites == 1
    raw = resources["RawBucket"]["Properties"]
    assert raw["VersioningConfiguration"] == {"Status": "Enabled"}
    prefixes = {rule.get("Prefix") for rule in raw["LifecycleConfiguration"]["Rules"]}
    assert {"raw/", "uploads/"} <= prefixes
    processed = resources["ProcessedBucket"]["Properties"]
    rules = processed["LifecycleConfiguration"]["Rules"]
    assert [(r["Prefix"], r["ExpirationInDays"]) for r in rules if "Prefix" in r] == [
        ("chunks/", 14)
    ]


def test_tables_are_on_demand_with_point_in_time_recovery(built: Built):
    tables = _of_type(built.sam, "AWS::DynamoDB::Table")
    assert {"BatchesTable", "RecordsTable", "ApiKeysTable"} <= set(tables)
    for name, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert table["DeletionPolicy"] == "Retain", name
    for name in ("BatchesTable", "RecordsTable"):
        assert tables[name]["Properties"]["TimeToLiveSpecification"]["Enabled"] is True


def test_every_alarm_notifies_the_alarms_topic_and_each_failure_has_one(built: Built):
    alarms = _of_type(built.sam, "AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmsTopic"}], name
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], json.dumps(d["Value"]))
        for a in alarms.values()
        for d in a["Properties"]["Dimensions"]
    }
    for properties in _functions(built.sam).values():
        function_name = json.dumps(properties["FunctionName"])
        for metric in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric, function_name) in watched, (function_name, metric)
    assert ("AWS/States", "ExecutionsFailed", '{"Ref": "PipelineStateMachine"}') in watched
    assert any(ns == "AWS/ApiGateway" and metric == "5XXError" for ns, metric, _ in watched)
    assert built.sam["Resources"]["AlarmsTopic"]["Type"] == "AWS::SNS::Topic"


def test_the_api_answers_the_dashboards_origin_only(built: Built):
    origins: list[Any] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "method.response.header.Access-Control-Allow-Origin":
                    origins.append(item)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(built.sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"])
    assert origins, "the API answers no CORS preflight"
    assert all(o == {"Fn::Sub": "'${DashboardBucket.WebsiteURL}'"} for o in origins), origins
    environment = built.sam["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["SLUICE_DASHBOARD_ORIGIN"] == {
        "Fn::GetAtt": ["DashboardBucket", "WebsiteURL"]
    }


def test_the_resources_stack_for_chalice_deploy_outputs_every_role(built: Built):
    outputs = built.resources["Outputs"]
    for spec in FUNCTIONS:
        assert outputs[f"{spec.role_id}Arn"] == {"Value": {"Fn::GetAtt": [spec.role_id, "Arn"]}}
    assert "Transform" not in built.resources
    defaults = {name: p.get("Default") for name, p in built.resources["Parameters"].items()}
    assert defaults["FunctionNamePrefix"] == "sluice-dev-"
    assert defaults["ApiFunctionName"] == "sluice-dev"
