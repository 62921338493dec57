"""The records table: processed (enriched) and rejected records, queryable by batch and by index.

Item keys come from the batch and the record's line in its source, so writing a record
twice (a retried chunk, a re-run execution) replaces it instead of duplicating it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import decode_page_token, encode_page_token, from_item, to_item

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb.service_resource import Table

    from shared.datasets.base import IndexKeys
    from shared.models import RejectedRecord, StagedRecord

__all__ = ["INDEX_NAME", "RecordRepository", "RecordStatus"]

INDEX_NAME = "by-index-key"


class RecordStatus(StrEnum):
    """Which records of a batch to read."""

    PROCESSED = "processed"
    REJECTED = "rejected"


class RecordRepository:
    """Writes and pages through a batch's records."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def put_processed(
        self, dataset: str, records: Iterable[tuple[StagedRecord[Any], IndexKeys]]
    ) -> int:
        """Write processed records with their index keys; return how many were written."""
        count = 0
        with self._table.batch_writer(overwrite_by_pkeys=["batch_id", "record_key"]) as writer:
            for staged, keys in records:
                line = staged.lineage.line
                writer.put_item(
                    Item=to_item(
                        staged,
                        batch_id=staged.lineage.batch_id,
                        record_key=_record_key(RecordStatus.PROCESSED, line),
                        status=RecordStatus.PROCESSED.value,
                        dataset=dataset,
                        line=line,
                        index_pk=f"{dataset}#{keys.partition}",
                        index_sk=keys.sort,
                    )
                )
                count += 1
        return count

    def put_rejected(self, dataset: str, records: Iterable[RejectedRecord]) -> int:
        """Write rejected records with their reasons; return how many were written."""
        count = 0
        with self._table.batch_writer(overwrite_by_pkeys=["batch_id", "record_key"]) as writer:
            for rejected in records:
                line = rejected.lineage.line
                writer.put_item(
                    Item=to_item(
                        rejected,
                        batch_id=rejected.lineage.batch_id,
                        record_key=_record_key(RecordStatus.REJECTED, line),
                        status=RecordStatus.REJECTED.value,
                        dataset=dataset,
                        line=line,
                    )
                )
                count += 1
        return count

    def page(
        self, batch_id: str, status: RecordStatus, limit: int, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return a page of a batch's records in line order, and the next page's token."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("batch_id").eq(batch_id)
            & Key("record_key").begins_with(f"{status.value}#"),
            "Limit": limit,
        }
        start = decode_page_token(token, frozenset({"batch_id", "record_key"}))
        if start:
            if start["batch_id"] != batch_id:
                start = None
            else:
                query["ExclusiveStartKey"] = start
        response = self._table.query(**query)
        records = [_public(from_item(item)) for item in response["Items"]]
        return records, encode_page_token(response.get("LastEvaluatedKey"))

    def by_index(self, dataset: str, partition: str) -> list[dict[str, Any]]:
        """Return every processed record under one index partition (flights: carrier#date)."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": Key("index_pk").eq(f"{dataset}#{partition}"),
        }
        while True:
            response = self._table.query(**query)
            items.extend(_public(from_item(item)) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                return items
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _record_key(status: RecordStatus, line: int) -> str:
    return f"{status.value}#{line:09d}"


def _public(item: dict[str, Any]) -> dict[str, Any]:
    # Table keys are storage detail; the API shows the record, its lineage and reasons.
    return {k: v for k, v in item.items() if k not in {"record_key", "index_pk", "index_sk"}}
