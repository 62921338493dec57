"""The audit trail: who did what to a failure (a retry, a replay, a redrive, a discard, a note).

Every operator action the API takes is recorded here, with the name of the API key
that asked and when. An entry is written twice, in one transaction: once in the
audit partition (``~audit``, newest first across everything) and once in the
partition of the batch it is about, if any, next to the batch's own items, so a
batch's history is one query. Entries are never changed or deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import decode_page_token, encode_page_token, from_item, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = ["AUDIT_PARTITION", "AUDIT_PREFIX", "AuditEntry", "AuditLog"]

# "~" is not a batch id character (BATCH_ID_PATTERN), so no batch can own this partition.
AUDIT_PARTITION = "~audit"
AUDIT_PREFIX = "audit#"


class AuditEntry(BaseModel):
    """One operator action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str = Field(description="retry, replay, redrive, discard, handle ...")
    actor: str = Field(description="The name of the API key that asked.")
    at: datetime
    target: str = Field(description="What it acted on: a batch, chunk, reject or message id.")
    batch_id: str | None = None
    note: Annotated[str | None, Field(max_length=2_000)] = None
    details: dict[str, Any] = Field(default_factory=dict)


class AuditLog:
    """Writes and reads audit entries in the batches table."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._client = table.meta.client

    def record(self, entry: AuditEntry) -> None:
        """Store an entry (in the audit partition and, if it names one, its batch's)."""
        item = f"{AUDIT_PREFIX}{entry.at.isoformat()}#{uuid.uuid4().hex[:12]}"
        puts: list[Any] = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": to_item(
                        entry, batch_id=AUDIT_PARTITION, item=item, about=entry.batch_id
                    ),
                }
            }
        ]
        if entry.batch_id is not None:
            puts.append({"Put": {"TableName": self._table.name, "Item": to_item(entry, item=item)}})
        self._client.transact_write_items(TransactItems=puts)

    def recent(self, limit: int, token: str | None = None) -> tuple[list[AuditEntry], str | None]:
        """Return entries newest first, across every batch, and the next page's token."""
        return self._page(AUDIT_PARTITION, limit, token)

    def for_batch(
        self, batch_id: str, limit: int = 100, token: str | None = None
    ) -> tuple[list[AuditEntry], str | None]:
        """Return a batch's entries newest first, and the next page's token."""
        return self._page(batch_id, limit, token)

    def _page(
        self, partition: str, limit: int, token: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("batch_id").eq(partition)
            & Key("item").begins_with(AUDIT_PREFIX),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_page_token(token, frozenset({"batch_id", "item"}))
        if start and start["batch_id"] == partition:
            query["ExclusiveStartKey"] = start
        response = self._table.query(**query)
        entries = [_entry(item) for item in response["Items"]]
        return entries, encode_page_token(response.get("LastEvaluatedKey"))


def _entry(item: dict[str, Any]) -> AuditEntry:
    data = from_item(item)
    batch_id = (
        data.pop("about", None) if data.get("batch_id") == AUDIT_PARTITION else data.get("batch_id")
    )
    data.pop("item", None)
    data["batch_id"] = batch_id
    return AuditEntry.model_validate(data)
