"""Converting between pydantic models and DynamoDB items, and opaque pagination tokens.

DynamoDB stores numbers as ``Decimal``; we convert through JSON once on the way in and
once on the way out, so models never see a ``Decimal`` and floats never lose digits.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from shared.errors import MalformedRequestError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from pydantic import BaseModel

__all__ = [
    "condition_failed",
    "decode_page_token",
    "encode_page_token",
    "from_item",
    "put_new",
    "to_item",
    "update_if",
]


def to_item(model: BaseModel, **extra: Any) -> dict[str, Any]:
    """Turn a model (plus extra attributes) into a DynamoDB item, leaving out top-level ``None``."""
    data = json.loads(model.model_dump_json(), parse_float=Decimal)
    data.update(extra)
    return {key: value for key, value in data.items() if value is not None}


def put_new(table: Table, item: dict[str, Any], key: str) -> bool:
    """Put an item only if none has its key (``key``: the partition key's name).

    Returns False, writing nothing, if one does.
    """
    try:
        table.put_item(Item=item, ConditionExpression=Attr(key).not_exists())
    except ClientError as err:
        if condition_failed(err):
            return False
        raise
    return True


def update_if(table: Table, **update: Any) -> bool:
    """``update_item`` with ``update``'s arguments, under its ``ConditionExpression``.

    Returns False, changing nothing, if the condition does not hold.
    """
    try:
        table.update_item(**update)
    except ClientError as err:
        if condition_failed(err):
            return False
        raise
    return True


def condition_failed(err: ClientError) -> bool:
    """Whether DynamoDB refused a write because its condition did not hold."""
    return err.response["Error"]["Code"] == "ConditionalCheckFailedException"


def from_item(value: Any) -> Any:
    """Turn a DynamoDB value back into plain JSON types (``Decimal`` → ``int``/``float``)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: from_item(inner) for key, inner in value.items()}
    if isinstance(value, list | set | tuple):
        return [from_item(inner) for inner in value]
    return value


def encode_page_token(last_evaluated_key: dict[str, Any] | None) -> str | None:
    """Encode DynamoDB's ``LastEvaluatedKey`` as an opaque URL-safe token."""
    if not last_evaluated_key:
        return None
    raw = json.dumps(from_item(last_evaluated_key), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str | None, expected_keys: frozenset[str]) -> dict[str, Any] | None:
    """Decode a token made by ``encode_page_token``; the client may have tampered with it.

    Raises:
        MalformedRequestError: the token is not one we issued.
    """
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError) as err:
        raise MalformedRequestError("the next token is not valid") from err
    if (
        not isinstance(key, dict)
        or set(key) != expected_keys
        or not all(isinstance(v, str) for v in key.values())
    ):
        raise MalformedRequestError("the next token is not valid")
    return key
