"""``make deploy`` and ``make deploy-dashboard``, with AWS played by moto and commands recorded.

Nothing here can reach AWS: the AWS CLI and ``chalice deploy`` are replaced by a runner
that records the command (and, for the resources stack, creates it in moto's
CloudFormation as the CLI would); Chalice's own configuration loader and application
graph then show which role each function would be deployed with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from chalice.cli.factory import CLIFactory
from chalice.deploy import models
from chalice.deploy.appgraph import ApplicationGraphBuilder
from chalice.deploy.validate import validate_configuration
from moto import mock_aws

from infra.deploy import (
    DeployError,
    Deployment,
    chalice_api_url,
    config_js,
    deploy_template,
    deploy_with_chalice,
    upload_dashboard,
)
from infra.functions import FUNCTIONS
from infra.template import role_output

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tests.packaging.build import Built

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

REGION = "us-east-1"


@dataclass
class Recorder:
    """Stands in for the AWS CLI and Chalice; creates the resources stack in moto."""

    create_stacks: bool = True
    commands: list[list[str]] = field(default_factory=list)
    environments: list[Mapping[str, str] | None] = field(default_factory=list)

    def __call__(self, command: list[str], env: Mapping[str, str] | None) -> None:
        self.commands.append(command)
        self.environments.append(env)
        if self.create_stacks and command[:3] == ["aws", "cloudformation", "deploy"]:
            template = command[command.index("--template-file") + 1]
            with Path(template).open() as body:
                boto3.client("cloudformation", region_name=REGION).create_stack(
                    StackName=command[command.index("--stack-name") + 1],
                    TemplateBody=body.read(),
                    Capabilities=["CAPABILITY_IAM"],
                )
        if command[-3:-1] == ["deploy", "--stage"]:
            _what_chalice_deploy_creates(command[-1])


def _what_chalice_deploy_creates(stage: str) -> None:
    """The starter and its event source mapping, without partial batch responses."""
    aws_lambda = boto3.client("lambda", region_name=REGION)
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="chalice-test", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    aws_lambda.create_function(
        FunctionName=f"sluice-{stage}-start_batches",
        Runtime="python3.12",
        Role=role,
        Handler="app.start_batches",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    queue = boto3.client("sqs", region_name=REGION).get_queue_url(QueueName="sluice-ingest")
    arn = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=queue["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    aws_lambda.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=f"sluice-{stage}-start_batches", BatchSize=10
    )


@pytest.fixture
def aws(fake_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        yield


def test_the_template_path_packages_then_deploys_one_stack(built: Built):
    recorder = Recorder(create_stacks=False)
    deployment = Deployment(
        stage="dev",
        stack_name="sluice-dev",
        package_dir=built.packaged.out,
        artifacts_bucket="my-artifacts",
        alarm_email="ops@example.com",
    )

    deploy_template(deployment, run=recorder)

    package, deploy = recorder.commands
    assert package[:3] == ["aws", "cloudformation", "package"]
    assert package[package.index("--template-file") + 1] == str(built.packaged.template)
    assert package[package.index("--s3-bucket") + 1] == "my-artifacts"
    packaged = package[package.index("--output-template-file") + 1]
    assert deploy[:3] == ["aws", "cloudformation", "deploy"]
    assert deploy[deploy.index("--template-file") + 1] == packaged
    assert deploy[deploy.index("--stack-name") + 1] == "sluice-dev"
    capabilities = deploy[deploy.index("--capabilities") + 1 : deploy.index("--capabilities") + 3]
    assert capabilities == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    overrides = deploy[deploy.index("--parameter-overrides") + 1 :]
    assert overrides == ["AlarmEmail=ops@example.com"]


def test_the_template_path_needs_an_artifacts_bucket(built: Built):
    deployment = Deployment(stage="dev", stack_name="s", package_dir=built.packaged.out)

    with pytest.raises(DeployError, match="DEPLOY_BUCKET"):
        deploy_template(deployment, run=Recorder())


def test_the_chalice_path_deploys_each_function_with_its_own_role_and_the_stacks_settings(
    built: Built, aws: None, tmp_path: Path
):
    recorder = Recorder()
    deployment = Deployment(stage="dev", stack_name="sluice-dev", package_dir=built.packaged.out)
    app_dir = tmp_path / "deploy-app"

    deploy_with_chalice(
        deployment,
        boto3.client("cloudformation", region_name=REGION),
        boto3.client("lambda", region_name=REGION),
        run=recorder,
        app_dir=app_dir,
        chalice=tmp_path / "chalice",
        deployed_dir=tmp_path / "deployed",
    )

    resources_stack, chalice_deploy = recorder.commands
    assert resources_stack[resources_stack.index("--template-file") + 1] == str(
        built.packaged.resources_template
    )
    assert chalice_deploy == [
        str(tmp_path / "chalice"),
        "--project-dir",
        str(app_dir),
        "deploy",
        "--stage",
        "dev",
    ]
    outputs = _outputs("sluice-dev")
    chalice_env = recorder.environments[1]
    assert chalice_env is not None
    assert chalice_env["SLUICE_DASHBOARD_ORIGIN"] == outputs["DashboardWebsiteURL"]
    assert (app_dir / ".chalice" / "deployed").resolve() == (tmp_path / "deployed").resolve()

    roles, environment = _what_chalice_would_deploy(app_dir, "dev")
    assert roles == {spec.logical_id: outputs[role_output(spec)] for spec in FUNCTIONS}, (
        "every function deploys with its own role from the stack"
    )
    assert environment["SLUICE_BATCHES_TABLE"] == outputs["BatchesTableName"]
    assert environment["SLUICE_STATE_MACHINE_ARN"] == outputs["StateMachineArn"]
    assert environment["SLUICE_DASHBOARD_ORIGIN"] == outputs["DashboardWebsiteURL"]

    (mapping,) = boto3.client("lambda", region_name=REGION).list_event_source_mappings(
        FunctionName="sluice-dev-start_batches"
    )["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def _outputs(stack: str) -> dict[str, str]:
    described = boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}


def _what_chalice_would_deploy(app_dir: Path, stage: str) -> tuple[dict[str, str], dict[str, str]]:
    """Read the staged project with Chalice's own loader; return roles by logical id."""
    config = CLIFactory(project_dir=str(app_dir)).create_config_obj(chalice_stage_name=stage)
    validate_configuration(config)
    application = ApplicationGraphBuilder().build(config, stage)
    roles: dict[str, str] = {}
    environment: dict[str, str] = {}
    for resource in _walk(application):
        if isinstance(resource, models.LambdaFunction):
            assert isinstance(resource.role, models.PreCreatedIAMRole), resource.resource_name
            logical_id = (
                "APIHandler"
                if resource.resource_name == "api_handler"
                else "".join(part.capitalize() for part in resource.resource_name.split("_"))
            )
            roles[logical_id] = resource.role.role_arn
            environment = resource.environment_variables
    return roles, environment


def _walk(resource: Any) -> Iterator[Any]:
    yield resource
    for dependency in resource.dependencies():
        yield from _walk(dependency)


def test_the_chalice_path_finds_the_api_url_chalice_recorded(tmp_path: Path):
    (tmp_path / "dev.json").write_text(
        json.dumps(
            {
                "resources": [
                    {"name": "api_handler", "resource_type": "lambda_function"},
                    {
                        "name": "rest_api",
                        "resource_type": "rest_api",
                        "rest_api_url": "https://abc.execute-api.us-east-1.amazonaws.com/api/",
                    },
                ]
            }
        )
    )

    assert (
        chalice_api_url("dev", tmp_path) == "https://abc.execute-api.us-east-1.amazonaws.com/api/"
    )
    with pytest.raises(DeployError, match="DEPLOY_WITH=chalice"):
        chalice_api_url("prod", tmp_path)


def test_the_dashboard_is_uploaded_with_its_config_and_stale_files_removed(
    aws: None, tmp_path: Path
):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="dashboard")
    s3.put_object(Bucket="dashboard", Key="js/old.js", Body=b"// gone")
    frontend = tmp_path / "frontend"
    (frontend / "js").mkdir(parents=True)
    (frontend / "index.html").write_text("<!doctype html><title>Sluice</title>")
    (frontend / "js" / "app.js").write_text('import { API_BASE_URL } from "../config.js";')
    (frontend / "config.js").write_text('export const API_BASE_URL = "";\n')
    (frontend / ".DS_Store").write_text("")
    url = "https://abc.execute-api.us-east-1.amazonaws.com/api/"

    keys = upload_dashboard(s3, "dashboard", url, frontend)

    assert keys == ["config.js", "index.html", "js/app.js"]
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="dashboard")["Contents"])
    assert listed == keys
    config = s3.get_object(Bucket="dashboard", Key="config.js")
    assert config["Body"].read() == config_js(url)
    assert config_js(url) == (f'export const API_BASE_URL = "{url}";\n').encode()
    assert config["ContentType"].startswith("text/javascript")
    assert config["CacheControl"] == "no-cache"
    page = s3.get_object(Bucket="dashboard", Key="index.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    script = s3.head_object(Bucket="dashboard", Key="js/app.js")
    assert script["ContentType"].startswith("text/javascript")


def test_a_package_built_for_another_stage_is_refused(built: Built):
    deployment = Deployment(
        stage="prod", stack_name="sluice-prod", package_dir=built.packaged.out, artifacts_bucket="b"
    )

    with pytest.raises(DeployError, match="DEPLOY_STAGE=prod"):
        deploy_template(deployment, run=Recorder(create_stacks=False))
