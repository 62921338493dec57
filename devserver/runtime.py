"""Assemble the local runtime: moto configured to execute, real handlers dispatched, resources made.

Used by ``python -m devserver`` (over moto's HTTP server) and by the functional tests
(over ``mock_aws`` in-process), so both run the same wiring.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

import boto3

from devserver import moto_dynamodb, moto_speed
from devserver.lambda_dispatch import Handler, install
from devserver.poller import SqsPoller
from devserver.provision import FUNCTION_PREFIX, Provisioned, provision
from shared import aws
from shared.context import get_context
from shared.settings import get_settings
from stages import STATE_FUNCTIONS

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

__all__ = [
    "LOCAL_SETTINGS",
    "MOTO_CONFIG",
    "REGION",
    "apply_environment",
    "lambda_handlers",
    "make_poller",
    "provision_local",
]

REGION = "us-east-1"

# Step Functions executes the ASL; Lambda runs without Docker (and so through our dispatcher).
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def lambda_handlers() -> dict[str, Handler]:
    """Map each deployed function name to the handler Lambda would call in ``app.py``."""
    import app

    return {FUNCTION_PREFIX + name: getattr(app, name) for name in STATE_FUNCTIONS}


# Settings that suit one machine better than AWS's defaults; the environment wins.
LOCAL_SETTINGS = {
    # moto runs a thread per concurrent Map child, all in this process: a few are plenty.
    "SLUICE_MAP_CONCURRENCY": "4",
    "SLUICE_LOCAL_RUNTIME": "true",
}


def provision_local(stack_name: str = "sluice") -> Provisioned:
    """Install the dispatcher and create every resource in the current moto."""
    moto_dynamodb.install()
    moto_speed.install()
    install(lambda_handlers())
    provisioned = provision(
        boto3.client("cloudformation", region_name=REGION),
        boto3.client("stepfunctions", region_name=REGION),
        boto3.client("lambda", region_name=REGION),
        boto3.client("iam", region_name=REGION),
        boto3.client("s3", region_name=REGION),
        stack_name=stack_name,
    )
    local = {k: v for k, v in LOCAL_SETTINGS.items() if k not in os.environ}
    return replace(provisioned, environment={**local, **provisioned.environment})


def apply_environment(environment: dict[str, str]) -> None:
    """Export the functions' settings and forget cached clients, settings and contexts."""
    os.environ.update(environment)
    get_settings.cache_clear()
    get_context.cache_clear()
    aws.clear_clients()


def make_poller(provisioned: Provisioned) -> SqsPoller:
    """Return a poller feeding the ingest queue to the ``start_batches`` handler."""
    import app

    return SqsPoller(
        aws.sqs(),
        provisioned.outputs["IngestQueueUrl"],
        provisioned.outputs["IngestQueueArn"],
        app.start_batches,
        name=FUNCTION_PREFIX + "start_batches",
    )
