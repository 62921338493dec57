"""Make moto's DynamoDB atomic per request, as DynamoDB is, for the local runtime's threads.

The local runtime runs many Lambda invocations at once (a Distributed Map's children)
on threads of one process, all writing to moto's in-memory tables. moto does not guard
its tables: two ``UpdateItem ADD``s to one item can interleave and lose an increment,
and its ``TransactWriteItems`` backs up (``deepcopy``) every table it touches, then
restores the whole table on a cancelled transaction, wiping other threads' writes made
in between, and costs time in the size of the table. The chunk ledger relies on both
being atomic. This module serialises moto's DynamoDB operations with one lock and gives
``TransactWriteItems`` the all-or-nothing behaviour of the real service: every
condition is checked first, nothing is written unless all pass, and a write that fails
half way is undone item by item. It patches moto (the fake AWS), never our code.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from typing import TYPE_CHECKING, Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["install", "transact_write_items"]

_LOCK = threading.RLock()
_SERIALISED = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "transact_get_items",
)
_ORIGINAL: dict[str, Callable[..., Any]] = {}


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """All or nothing: check every item's condition, then write them all (under the lock).

    Raises:
        TransactionCanceledException: a condition failed; nothing was written.
    """
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _LOCK:
        plan: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = []
        errors: list[tuple[str | None, str | None, None]] = []
        seen: set[tuple[str, str]] = set()
        for entry in transact_items:
            if len(entry) > 1:
                raise TransactWriteSingleOpException
            kind, operation = next(iter(entry.items()))
            key = _key(self, kind, operation)
            identity = (operation["TableName"], json.dumps(key, sort_keys=True))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            current = self.get_item(operation["TableName"], key)
            if not _condition_holds(operation, current):
                errors.append(("ConditionalCheckFailed", "The conditional request failed", None))
                continue
            errors.append((None, None, None))
            plan.append((kind, operation, key, copy.deepcopy(current)))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        done: list[tuple[dict[str, Any], dict[str, Any], Any]] = []
        try:
            for kind, operation, key, before in plan:
                _write(self, kind, operation, key)
                done.append((operation, key, before))
        except Exception:
            for operation, key, before in reversed(done):
                _restore(self, operation["TableName"], key, before)
            raise


def _key(backend: DynamoDBBackend, kind: str, operation: dict[str, Any]) -> dict[str, Any]:
    if kind != "Put":
        return dict(operation["Key"])
    table = backend.get_table(operation["TableName"])
    attributes = operation["Item"]
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    return key


def _condition_holds(operation: dict[str, Any], current: Any) -> bool:
    expression = operation.get("ConditionExpression")
    if expression is None:
        return True
    condition = get_filter_expression(
        expression,
        operation.get("ExpressionAttributeNames"),
        operation.get("ExpressionAttributeValues"),
    )
    return bool(condition.expr(current))


def _write(
    backend: DynamoDBBackend, kind: str, operation: dict[str, Any], key: dict[str, Any]
) -> None:
    names = operation.get("ExpressionAttributeNames") or {}
    values = operation.get("ExpressionAttributeValues") or {}
    table = operation["TableName"]
    if kind == "Put":
        backend.put_item(table, operation["Item"])
    elif kind == "Update":
        backend.update_item(
            table,
            key,
            update_expression=operation["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
    elif kind == "Delete":
        backend.delete_item(table, key)
    # ConditionCheck writes nothing.


def _restore(backend: DynamoDBBackend, table: str, key: dict[str, Any], before: Any) -> None:
    if before is None:
        backend.delete_item(table, key)
    else:
        backend.put_item(table, before.to_json()["Attributes"])


def install() -> None:
    """Serialise moto's DynamoDB operations and make its transactions all-or-nothing."""
    if _ORIGINAL:
        return
    for name in (*_SERIALISED, "transact_write_items"):
        _ORIGINAL[name] = getattr(DynamoDBBackend, name)
    for name in _SERIALISED:
        setattr(DynamoDBBackend, name, _serialised(_ORIGINAL[name]))
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    """Put moto's own DynamoDB operations back."""
    for name, method in _ORIGINAL.items():
        setattr(DynamoDBBackend, name, method)
    _ORIGINAL.clear()
