"""``make deploy`` and ``make deploy-dashboard``: the two ways to put Sluice on AWS.

Both start from ``make package`` (``build/package``) and need AWS credentials only here.

- ``template`` (default): the whole system as one stack. ``aws cloudformation package``
  uploads the zip to your artifacts bucket, ``aws cloudformation deploy`` creates or
  updates the stack from ``sam.json``.
- ``chalice``: the design card's path. ``aws cloudformation deploy`` creates the resources
  stack from ``resources.json`` (tables, buckets, queues, topics, state machine, one role
  per function, alarms); ``chalice deploy`` then deploys the app against it, wired through
  the stack's outputs (each function's role ARN and the ``SLUICE_*`` environment). Chalice
  cannot ask for partial batch responses on the SQS event source, so this turns
  ``ReportBatchItemFailures`` on afterwards.

``dashboard`` uploads ``frontend/`` to the dashboard bucket with a generated
``config.js`` holding the API's URL.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.functions import FUNCTIONS
from infra.package import (
    BUILD,
    ROOT,
    chalice_environment,
    ensure_packaging_venv,
    function_prefix,
    stage_app,
)
from infra.template import DASHBOARD_ORIGIN_OUTPUT, deploy_environment, role_output

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "API_URL_OUTPUT",
    "DeployError",
    "Deployment",
    "chalice_stage_config",
    "config_js",
    "deploy_template",
    "deploy_with_chalice",
    "enable_partial_batch_responses",
    "upload_dashboard",
]

Runner = Callable[[list[str], Mapping[str, str] | None], None]

API_URL_OUTPUT = "EndpointURL"  # chalice package's output with the API's base URL
INLINE_TEMPLATE_LIMIT = 51_200  # bytes CloudFormation accepts as an inline template body
# A role that cannot exist: Chalice wants a stage-level role ARN when it does not manage
# roles, and any function without a role of its own must fail to deploy, not borrow one.
_NO_ROLE = "arn:aws:iam::000000000000:role/every-function-needs-its-own-role"
_NO_CACHE = "no-cache"
_CACHED = "max-age=300"


class DeployError(RuntimeError):
    """The deployment cannot go on; the message says what is missing."""


@dataclass(frozen=True)
class Deployment:
    """Where and what to deploy."""

    stage: str
    stack_name: str
    package_dir: Path = BUILD / "package"
    artifacts_bucket: str | None = None
    alarm_email: str | None = None

    def parameter_overrides(self) -> list[str]:
        """Return ``--parameter-overrides`` and its values, if any (names are the defaults)."""
        if self.alarm_email:
            return ["--parameter-overrides", f"AlarmEmail={self.alarm_email}"]
        return []


def run_command(command: list[str], env: Mapping[str, str] | None = None) -> None:
    """Run a command, streaming its output; stop the deployment if it fails."""
    sys.stdout.write(f"+ {' '.join(command)}\n")
    sys.stdout.flush()
    done = subprocess.run(command, env=dict(env) if env is not None else None, check=False)
    if done.returncode != 0:
        raise DeployError(f"{command[0]} {command[1]} exited with {done.returncode}")


def deploy_template(deployment: Deployment, run: Runner = run_command) -> None:
    """Deploy ``sam.json`` as one stack (the zip goes to the artifacts bucket).

    Raises:
        DeployError: no artifacts bucket, no package, or a command failed.
    """
    if not deployment.artifacts_bucket:
        raise DeployError("the template path uploads the zip to S3: set DEPLOY_BUCKET=<bucket>")
    template = _packaged_file(deployment, "sam.json")
    packaged = deployment.package_dir / "packaged.json"
    bucket = ["--s3-bucket", deployment.artifacts_bucket, "--s3-prefix", deployment.stack_name]
    run(
        [
            "aws",
            "cloudformation",
            "package",
            "--template-file",
            str(template),
            *bucket,
            "--output-template-file",
            str(packaged),
        ],
        None,
    )
    run(
        [
            "aws",
            "cloudformation",
            "deploy",
            "--template-file",
            str(packaged),
            "--stack-name",
            deployment.stack_name,
            "--capabilities",
            "CAPABILITY_IAM",
            "CAPABILITY_AUTO_EXPAND",
            *bucket,
            "--no-fail-on-empty-changeset",
            *deployment.parameter_overrides(),
        ],
        None,
    )


def deploy_with_chalice(
    deployment: Deployment,
    cloudformation: CloudFormationClient,
    lambda_client: LambdaClient,
    run: Runner = run_command,
    app_dir: Path = BUILD / "deploy-app",
    chalice: Path | None = None,
    deployed_dir: Path = ROOT / ".chalice" / "deployed",
) -> None:
    """Deploy the resources stack, then the app with ``chalice deploy`` against it.

    ``deployed_dir`` keeps Chalice's record of what it deployed; the staged app links to it.

    Raises:
        DeployError: no package, a template too big to send inline without a bucket, or a
            command failed.
    """
    template = _packaged_file(deployment, "resources.json")
    bucket: list[str] = []
    if deployment.artifacts_bucket:
        bucket = ["--s3-bucket", deployment.artifacts_bucket, "--s3-prefix", deployment.stack_name]
    elif template.stat().st_size > INLINE_TEMPLATE_LIMIT:
        raise DeployError("resources.json is over 51,200 bytes: set DEPLOY_BUCKET=<bucket>")
    run(
        [
            "aws",
            "cloudformation",
            "deploy",
            "--template-file",
            str(template),
            "--stack-name",
            deployment.stack_name,
            "--capabilities",
            "CAPABILITY_IAM",
            *bucket,
            "--no-fail-on-empty-changeset",
            *deployment.parameter_overrides(),
        ],
        None,
    )
    outputs = stack_outputs(cloudformation, deployment.stack_name)
    stage_app(app_dir, deployment.stage, chalice_stage_config(outputs))
    _share_deployed_state(app_dir, deployed_dir)
    chalice = chalice or ensure_packaging_venv()
    run(
        [str(chalice), "--project-dir", str(app_dir), "deploy", "--stage", deployment.stage],
        chalice_environment(outputs[DASHBOARD_ORIGIN_OUTPUT]),
    )
    starter = next(spec for spec in FUNCTIONS if spec.event_queue is not None)
    enable_partial_batch_responses(
        lambda_client, f"{function_prefix(deployment.stage)}{starter.chalice_name}"
    )


def _packaged_file(deployment: Deployment, name: str) -> Path:
    """Return a file of the package, which must have been built for the deployment's stage."""
    path = deployment.package_dir / name
    rebuild = f"run `make package DEPLOY_STAGE={deployment.stage}`"
    if not path.is_file():
        raise DeployError(f"{path} is missing: {rebuild}")
    prefix = json.loads(path.read_text())["Parameters"]["FunctionNamePrefix"]["Default"]
    if prefix != function_prefix(deployment.stage):
        raise DeployError(
            f"{path} names functions {prefix}*, not for {deployment.stage}: {rebuild}"
        )
    return path


def _share_deployed_state(app_dir: Path, kept: Path) -> None:
    """Keep Chalice's record of what it deployed in the checkout, not in ``build/``.

    Without ``.chalice/deployed/<stage>.json`` the next ``chalice deploy`` would create a
    second REST API instead of updating the first.
    """
    kept.mkdir(parents=True, exist_ok=True)
    link = app_dir / ".chalice" / "deployed"
    if link.is_symlink() or link.exists():
        if link.resolve() == kept.resolve():
            return
        raise DeployError(f"{link} exists and is not a link to {kept}: move it there")
    link.symlink_to(kept, target_is_directory=True)


def chalice_stage_config(outputs: Mapping[str, str]) -> dict[str, Any]:
    """Return the Chalice stage settings that wire the app to the resources stack."""
    return {
        "api_gateway_stage": "api",
        "iam_role_arn": _NO_ROLE,
        "environment_variables": deploy_environment(dict(outputs)),
        "lambda_functions": {
            spec.chalice_name: {"iam_role_arn": outputs[role_output(spec)]} for spec in FUNCTIONS
        },
    }


def enable_partial_batch_responses(lambda_client: LambdaClient, function_name: str) -> None:
    """Turn ``ReportBatchItemFailures`` on for every SQS event source of the function.

    Raises:
        DeployError: the function has no event source mapping.
    """
    mappings = lambda_client.list_event_source_mappings(FunctionName=function_name)
    found = mappings.get("EventSourceMappings", [])
    if not found:
        raise DeployError(f"{function_name} has no event source mapping")
    for mapping in found:
        if "ReportBatchItemFailures" not in mapping.get("FunctionResponseTypes", []):
            lambda_client.update_event_source_mapping(
                UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
            )


def stack_outputs(cloudformation: CloudFormationClient, stack_name: str) -> dict[str, str]:
    """Return a stack's outputs by name."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def chalice_api_url(stage: str, deployed_dir: Path = ROOT / ".chalice" / "deployed") -> str:
    """Return the REST API URL ``chalice deploy`` recorded for the stage.

    Raises:
        DeployError: nothing was deployed with Chalice for this stage.
    """
    record = deployed_dir / f"{stage}.json"
    if not record.is_file():
        raise DeployError(f"{record} is missing: run `make deploy DEPLOY_WITH=chalice` first")
    for resource in json.loads(record.read_text())["resources"]:
        if resource.get("resource_type") == "rest_api":
            return str(resource["rest_api_url"])
    raise DeployError(f"{record} names no REST API")


def config_js(api_base_url: str) -> bytes:
    """Return the dashboard's ``config.js`` for an API base URL."""
    return f"export const API_BASE_URL = {json.dumps(api_base_url)};\n".encode()


def upload_dashboard(s3: S3Client, bucket: str, api_base_url: str, source: Path) -> list[str]:
    """Upload ``source``'s files and a generated ``config.js``; delete what is no longer there.

    Returns the uploaded keys.
    """
    files = {
        path.relative_to(source).as_posix(): path
        for path in sorted(source.rglob("*"))
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(source).parts)
    }
    uploads: dict[str, bytes] = {key: path.read_bytes() for key, path in files.items()}
    uploads["config.js"] = config_js(api_base_url)
    for key, body in sorted(uploads.items()):
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=_content_type(key),
            CacheControl=_NO_CACHE if key in {"index.html", "config.js"} else _CACHED,
        )
    stale = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"] not in uploads
    ]
    for key in stale:
        s3.delete_object(Bucket=bucket, Key=key)
    return sorted(uploads)


def _content_type(key: str) -> str:
    if key.endswith((".js", ".mjs")):
        return "text/javascript; charset=utf-8"  # ES modules need a JavaScript MIME type
    guessed, _ = mimetypes.guess_type(key)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def main(argv: list[str] | None = None) -> None:
    """Deploy the packaged app, or the dashboard; see the module docstring."""
    import boto3

    parser = argparse.ArgumentParser(description="Deploy Sluice to AWS (see README).")
    parser.add_argument("what", choices=["template", "chalice", "dashboard"])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--stack", help="stack name (default sluice-<stage>)")
    parser.add_argument("--bucket", default=os.environ.get("DEPLOY_BUCKET") or None)
    parser.add_argument("--alarm-email", default=os.environ.get("ALARM_EMAIL") or None)
    parser.add_argument("--with", dest="mode", choices=["template", "chalice"], default="template")
    arguments = parser.parse_args(argv)
    deployment = Deployment(
        stage=arguments.stage,
        stack_name=arguments.stack or f"sluice-{arguments.stage}",
        artifacts_bucket=arguments.bucket,
        alarm_email=arguments.alarm_email,
    )
    try:
        if arguments.what == "template":
            deploy_template(deployment)
        elif arguments.what == "chalice":
            deploy_with_chalice(deployment, boto3.client("cloudformation"), boto3.client("lambda"))
        else:
            outputs = stack_outputs(boto3.client("cloudformation"), deployment.stack_name)
            url = (
                outputs[API_URL_OUTPUT]
                if arguments.mode == "template"
                else chalice_api_url(deployment.stage)
            )
            keys = upload_dashboard(
                boto3.client("s3"), outputs["DashboardBucketName"], url, ROOT / "frontend"
            )
            sys.stdout.write(
                f"uploaded {len(keys)} files; open {outputs[DASHBOARD_ORIGIN_OUTPUT]}\n"
            )
    except DeployError as err:
        sys.stderr.write(f"deploy: {err}\n")
        raise SystemExit(1) from err


if __name__ == "__main__":
    main()
