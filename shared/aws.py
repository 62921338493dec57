"""Typed, lazily created boto3 clients and the translation of throttling into a retryable error.

Clients are created on first use (not at import) so tests can start moto first and a
cold start only pays for the clients a function uses. Endpoints follow boto3's own
configuration (``AWS_ENDPOINT_URL``), which is how the local runtime points every
client at moto. Each client reports its calls to ``shared/usage.py`` (a batch's cost).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from shared import faults, usage
from shared.errors import AwsRequestError, StorageUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from botocore.client import BaseClient
    from mypy_boto3_dynamodb import DynamoDBServiceResource
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

__all__ = [
    "RETRYABLE_ERROR_CODES",
    "clear_clients",
    "dynamodb",
    "s3",
    "sqs",
    "stepfunctions",
    "translate_transient_errors",
]

_Client = TypeVar("_Client", bound="BaseClient")
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
# Presigned POSTs must be SigV4 (S3 refuses SigV2 in newer regions, and it is deprecated).
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))

RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


@functools.cache
def s3() -> S3Client:
    """Return the process's S3 client."""
    return _instrumented(boto3.client("s3", config=_S3_CONFIG))


@functools.cache
def dynamodb() -> DynamoDBServiceResource:
    """Return the process's DynamoDB resource (it converts numbers to ``Decimal`` for us)."""
    resource = boto3.resource("dynamodb", config=_CONFIG)
    _instrumented(resource.meta.client)
    return resource


@functools.cache
def sqs() -> SQSClient:
    """Return the process's SQS client."""
    return _instrumented(boto3.client("sqs", config=_CONFIG))


@functools.cache
def stepfunctions() -> SFNClient:
    """Return the process's Step Functions client."""
    return _instrumented(boto3.client("stepfunctions", config=_CONFIG))


def _instrumented(client: _Client) -> _Client:
    """``client``, reporting its calls (a batch's cost) and open to injected faults."""
    usage.install(client)
    faults.install(client)
    return client


def clear_clients() -> None:
    """Forget every cached client (tests call this when they switch endpoints)."""
    for getter in (s3, dynamodb, sqs, stepfunctions):
        getter.cache_clear()


@contextmanager
def translate_transient_errors() -> Iterator[None]:
    """Re-raise AWS errors as ours: throttling and server errors as ``StorageUnavailableError``.

    The state machine retries ``StorageUnavailableError`` with backoff; any other AWS
    error becomes ``AwsRequestError``, named after its code and operation, and fails the
    task (the chunk or batch then says what AWS refused, and where).

    Raises:
        StorageUnavailableError: AWS answered with a retryable error code.
        AwsRequestError: AWS refused the request otherwise.
    """
    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        code = error.get("Code", "")
        if code in RETRYABLE_ERROR_CODES:
            raise StorageUnavailableError(
                f"AWS is unavailable or throttling: {code} on {err.operation_name}"
            ) from err
        raise AwsRequestError(
            code or "ClientError", err.operation_name, error.get("Message", "")[:500]
        ) from err
