"""Where a batch's records are read back: rejects from DynamoDB, processed records from S3.

Rejected records (with their reasons) are items of the records table, keyed by batch
and source line, so writing one twice replaces it. Processed records are not in
DynamoDB at all: they live in S3, one NDJSON object per chunk and date partition,
written once per chunk; the chunk ledger says which objects a stored chunk wrote, so
a batch's processed records are paged chunk by chunk, in line order, without listing
the bucket. A dataset's date partition can be read across batches too.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections import deque
from datetime import datetime  # noqa: TC003 - pydantic resolves the annotations at runtime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict

from shared.dynamo import decode_page_token, encode_page_token, from_item, to_item, update_if
from shared.errors import MalformedRequestError
from shared.ledger import ChunkStatus
from shared.objects import chunk_of_processed_key, partition_prefix, processed_key

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import date

    from mypy_boto3_dynamodb.service_resource import Table

    from shared.ledger import ChunkLedger
    from shared.models import HandledMark, RejectedRecord
    from shared.objects import ObjectStore

__all__ = ["ProcessedRecords", "RecordStatus", "RejectRepository", "ReplayMark"]

# How much one page request may read before it answers with what it has (and a token).
_MAX_CHUNKS_PER_PAGE = 50
_MAX_OBJECTS_PER_PAGE = 50


class RecordStatus(StrEnum):
    """Which records of a batch to read."""

    PROCESSED = "processed"
    REJECTED = "rejected"


class ReplayMark(BaseModel):
    """On a reject: the replay that took it up, and its line there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str
    line: int
    at: datetime
    by: str


class RejectRepository:
    """Writes, pages through and withdraws a batch's rejected records."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def put(self, dataset: str, records: Iterable[RejectedRecord]) -> int:
        """Write rejected records with their reasons; return how many were written."""
        count = 0
        with self._table.batch_writer(overwrite_by_pkeys=["batch_id", "record_key"]) as writer:
            for rejected in records:
                line = rejected.lineage.line
                writer.put_item(
                    Item=to_item(
                        rejected,
                        batch_id=rejected.lineage.batch_id,
                        record_key=_record_key(line),
                        status=RecordStatus.REJECTED.value,
                        dataset=dataset,
                        line=line,
                    )
                )
                count += 1
        return count

    def get(self, batch_id: str, line: int) -> dict[str, Any] | None:
        """Return the reject of a source line as the API shows it, or None if it is not one."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "record_key": _record_key(line)}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else _public(from_item(item))

    def mark_replayed(self, batch_id: str, line: int, mark: ReplayMark) -> bool:
        """Note on a reject the replay that took it up; its values and reasons stay.

        Returns False if it is not a reject, or another replay took it up already (the
        same replay marking it again changes nothing).
        """
        return update_if(
            self._table,
            Key={"batch_id": batch_id, "record_key": _record_key(line)},
            UpdateExpression="SET replayed_to = if_not_exists(replayed_to, :mark)",
            ConditionExpression=(
                "attribute_exists(record_key) AND "
                "(attribute_not_exists(replayed_to) OR replayed_to.batch_id = :child)"
            ),
            ExpressionAttributeValues={":mark": to_item(mark), ":child": mark.batch_id},
        )

    def mark_handled(self, batch_id: str, line: int, mark: HandledMark) -> bool:
        """Note on a reject that someone dealt with it (the latest note wins).

        Returns False if it is not a reject.
        """
        return update_if(
            self._table,
            Key={"batch_id": batch_id, "record_key": _record_key(line)},
            UpdateExpression="SET handled = :mark",
            ConditionExpression="attribute_exists(record_key)",
            ExpressionAttributeValues={":mark": to_item(mark)},
        )

    def all_of(self, batch_id: str, cap: int) -> tuple[list[dict[str, Any]], bool]:
        """Return up to ``cap`` of a batch's rejects in line order, and whether there were more."""
        records: list[dict[str, Any]] = []
        token: str | None = None
        while len(records) < cap:
            page, token = self.page(batch_id, min(cap - len(records), 500), token)
            records.extend(page)
            if token is None:
                return records, False
        return records, True

    def withdraw(self, batch_id: str, first_line: int, last_line: int) -> int:
        """Delete the rejects of lines ``first_line``..``last_line``; return how many there were."""
        keys: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("batch_id").eq(batch_id)
            & Key("record_key").between(_record_key(first_line), _record_key(last_line)),
            "ProjectionExpression": "batch_id, record_key",
        }
        while True:
            response = self._table.query(**query)
            keys.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        with self._table.batch_writer() as writer:
            for key in keys:
                writer.delete_item(
                    Key={"batch_id": key["batch_id"], "record_key": key["record_key"]}
                )
        return len(keys)

    def page(
        self, batch_id: str, limit: int, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return a page of a batch's rejects in line order, and the next page's token."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("batch_id").eq(batch_id)
            & Key("record_key").begins_with(f"{RecordStatus.REJECTED.value}#"),
            "Limit": limit,
        }
        start = decode_page_token(token, frozenset({"batch_id", "record_key"}))
        if start and start["batch_id"] == batch_id:
            query["ExclusiveStartKey"] = start
        response = self._table.query(**query)
        records = [_public(from_item(item)) for item in response["Items"]]
        return records, encode_page_token(response.get("LastEvaluatedKey"))


class ProcessedRecords:
    """Pages through processed records in S3: one batch's in line order, or one date partition."""

    def __init__(self, ledger: ChunkLedger, store: ObjectStore) -> None:
        self._ledger = ledger
        self._store = store

    def batch_page(
        self,
        batch_id: str,
        dataset: str,
        chunks_total: int,
        limit: int,
        token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return a page of a batch's processed records in source-line order, and the next token.

        Chunks are read in index order; within a chunk, its date partitions are merged by
        line. The token names the chunk and how far into it the page got.
        """
        position = _decode(token, {"chunk": int, "offset": int}) or {"chunk": 0, "offset": 0}
        chunk, offset = position["chunk"], position["offset"]
        records: list[dict[str, Any]] = []
        read = 0
        while chunk < chunks_total and len(records) < limit and read < _MAX_CHUNKS_PER_PAGE:
            entry = self._ledger.get(batch_id, chunk)
            read += 1
            if entry is None or entry.status is not ChunkStatus.STORED:
                chunk, offset = chunk + 1, 0
                continue
            keys = [processed_key(dataset, p.date, batch_id, chunk) for p in entry.partitions]
            merged = list(
                heapq.merge(
                    *(self._store.get_json_lines(key) for key in keys),
                    key=lambda record: int(record["lineage"]["line"]),
                )
            )
            wanted = merged[offset : offset + limit - len(records)]
            records.extend(wanted)
            offset += len(wanted)
            if offset >= len(merged):
                chunk, offset = chunk + 1, 0
        if chunk >= chunks_total:
            return records, None
        return records, _encode({"chunk": chunk, "offset": offset})

    def partition_page(
        self,
        dataset: str,
        partition: date,
        filters: Mapping[str, str],
        limit: int,
        token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return a page of a date partition's records that match ``filters`` (field = value).

        Only objects of stored chunks are read. The token names the last object read
        and how many of its records the page took.
        """
        position = _decode(token, {"key": str, "offset": int}) or {"key": "", "offset": 0}
        prefix = partition_prefix(dataset, partition)
        cursor, offset = position["key"], position["offset"]
        if cursor and not cursor.startswith(prefix):
            raise MalformedRequestError("the next token is not valid")
        # The object the token names is read again from its offset, then the ones after it.
        queue: deque[str] = deque([cursor] if cursor else [])
        exhausted = False
        records: list[dict[str, Any]] = []
        read = 0
        stored: dict[tuple[str, int], bool] = {}
        while len(records) < limit:
            if not queue and not exhausted:
                keys, more = self._store.list_keys(prefix, start_after=cursor or None)
                queue.extend(keys)
                exhausted = not more
                cursor = keys[-1] if keys else cursor
            if not queue:
                return records, None
            if read >= _MAX_OBJECTS_PER_PAGE:
                return records, _encode({"key": queue[0], "offset": 0})
            key = queue.popleft()
            read += 1
            matches = [
                record
                for record in self._stored_lines(key, stored)
                if all(str(record.get("record", {}).get(f)) == v for f, v in filters.items())
            ]
            taken = matches[offset : offset + limit - len(records)]
            records.extend(taken)
            if offset + len(taken) < len(matches):
                return records, _encode({"key": key, "offset": offset + len(taken)})
            offset = 0
        if not queue and not exhausted:
            keys, _ = self._store.list_keys(prefix, start_after=cursor or None, limit=1)
            queue.extend(keys)
        return records, _encode({"key": queue[0], "offset": 0}) if queue else None

    def _stored_lines(
        self, key: str, stored_cache: dict[tuple[str, int], bool]
    ) -> list[dict[str, Any]]:
        owner = chunk_of_processed_key(key)
        if owner is None:
            return []
        if owner not in stored_cache:
            entry = self._ledger.get(*owner)
            stored_cache[owner] = entry is not None and entry.status is ChunkStatus.STORED
        return self._store.get_json_lines(key) if stored_cache[owner] else []


def _record_key(line: int) -> str:
    return f"{RecordStatus.REJECTED.value}#{line:09d}"


def _public(item: dict[str, Any]) -> dict[str, Any]:
    # Table keys are storage detail; the API shows the record, its lineage and reasons.
    return {k: v for k, v in item.items() if k != "record_key"}


def _encode(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str | None, shape: dict[str, type]) -> dict[str, Any] | None:
    """Read a token made by ``_encode``; a client may have tampered with it.

    Raises:
        MalformedRequestError: the token is not one we issued.
    """
    if not token:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
    except (binascii.Error, ValueError) as err:
        raise MalformedRequestError("the next token is not valid") from err
    if (
        not isinstance(position, dict)
        or set(position) != set(shape)
        or not all(type(position[k]) is t for k, t in shape.items())
        or any(isinstance(v, int) and v < 0 for v in position.values())
    ):
        raise MalformedRequestError("the next token is not valid")
    return position
