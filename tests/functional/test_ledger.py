"""The chunk ledger over moto: moves are exact under concurrency, repeats add nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from shared.batches import BatchRepository, NewBatch
from shared.errors import BatchNotFoundError
from shared.ledger import ChunkLedger, ChunkStatus, PartitionOutput, StageProgress, contribution
from shared.models import ChunkRef, ErrorInfo, StageName

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from tests.functional.conftest import Pipeline

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = "20260101T000000-ledger00"


@pytest.fixture
def table(pipeline: Pipeline) -> Table:
    table: Table = pipeline.aws["dynamodb"].Table(pipeline.outputs["BatchesTableName"])
    BatchRepository(table).create(
        NewBatch(
            batch_id=BATCH,
            dataset="flights",
            content_type="text/csv",
            raw_key="raw/x.csv",
            payload_sha256="x",
            records_received=10 * 40,
            received_at=T0,
        )
    )
    return table


def _chunk(index: int) -> ChunkRef:
    first = 2 + index * 10
    return ChunkRef(
        index=index,
        key=f"chunks/{BATCH}/{index:06d}/raw.ndjson",
        records=10,
        first_line=first,
        last_line=first + 9,
    )


def _progress(rejected: int = 0) -> StageProgress:
    return StageProgress(
        received=10, processed=10 - rejected, rejected=rejected, started_at=T0, finished_at=T0
    )


def _drive_chunk(ledger: ChunkLedger, index: int) -> None:
    chunk = _chunk(index)
    rejected = index % 3
    partitions = [PartitionOutput(date=T0.date(), records=10 - rejected)]
    for stage in (StageName.VALIDATE, StageName.TRANSFORM, StageName.ENRICH):
        for _ in range(2):  # a retried or duplicated invocation
            ledger.record_stage(
                BATCH,
                chunk,
                stage,
                _progress(rejected if stage is StageName.VALIDATE else 0),
                partitions=partitions if stage is StageName.ENRICH else None,
            )
    if index % 7 == 0:
        ledger.record_failed_attempt(
            BATCH, chunk, StageName.STORE, "ThrottlingException on PutObject"
        )
        ledger.record_failed(BATCH, chunk, ErrorInfo(type="StorageUnavailableError", message="x"))
        ledger.record_failed(BATCH, chunk, ErrorInfo(type="StorageUnavailableError", message="x"))
        return
    for _ in range(2):  # a retried Store
        ledger.record_stored(BATCH, chunk, _progress(rejected), 10 - rejected, rejected, partitions)


def test_concurrent_moves_keep_the_summary_equal_to_the_sum_of_the_chunks(table: Table):
    ledger = ChunkLedger(table)
    errors: list[BaseException] = []

    def work(indexes: range) -> None:
        try:
            for index in indexes:
                _drive_chunk(ledger, index)
        except BaseException as err:  # noqa: BLE001 - report it to the test thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(range(i, 40, 8),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    entries, _ = ledger.page(BATCH, limit=100, token=None)
    assert len(entries) == 40
    expected: dict[str, int] = {}
    for entry in entries:
        for name, amount in contribution(entry).items():
            expected[name] = expected.get(name, 0) + amount
    summary: dict[str, Any] = table.get_item(Key={"batch_id": BATCH, "item": "batch"})["Item"]
    assert {name: int(summary.get(name, 0)) for name in expected} == expected
    batch = BatchRepository(table).get(BATCH)
    failed = sum(1 for i in range(40) if i % 7 == 0)
    assert (batch.chunks.stored, batch.chunks.failed, batch.chunks.running) == (
        40 - failed,
        failed,
        0,
    )
    assert batch.counts.processed + batch.counts.rejected + batch.counts.failed == 400
    assert batch.stages[StageName.STORE].failed_attempts == failed
    assert batch.stages[StageName.STORE].chunks_caught == failed
    assert batch.stages[StageName.STORE].last_error == "ThrottlingException on PutObject"


def test_a_repeated_move_writes_nothing(table: Table):
    ledger = ChunkLedger(table)
    partitions = [PartitionOutput(date=T0.date(), records=10)]
    first = ledger.record_stored(BATCH, _chunk(0), _progress(), 10, 0, partitions)

    again = ledger.record_stored(BATCH, _chunk(0), _progress(), 10, 0, partitions)

    assert first.status is ChunkStatus.STORED
    assert again.version == first.version == 1
    assert BatchRepository(table).get(BATCH).counts.processed == 10


def test_a_chunk_of_a_batch_that_does_not_exist_is_refused(table: Table):
    with pytest.raises(BatchNotFoundError):
        ChunkLedger(table).record_stage(
            "20990101T000000-nobatch0", _chunk(0), StageName.VALIDATE, _progress()
        )


def test_a_cancelled_transaction_writes_none_of_its_items(pipeline: Pipeline, table: Table):
    client: Any = boto3.client("dynamodb", region_name="us-east-1")
    name = pipeline.outputs["BatchesTableName"]
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"batch_id": {"S": BATCH}, "item": {"S": "x#1"}},
                    }
                },
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"batch_id": {"S": BATCH}, "item": {"S": "batch"}},
                        "UpdateExpression": "ADD processed :one",
                        "ConditionExpression": "attribute_not_exists(batch_id)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    assert "Item" not in table.get_item(Key={"batch_id": BATCH, "item": "x#1"})
    assert "processed" not in table.get_item(Key={"batch_id": BATCH, "item": "batch"})["Item"]


def test_enrich_records_the_partitions_store_will_write_and_a_repeat_changes_nothing(
    table: Table,
):
    ledger = ChunkLedger(table)
    ledger.record_stage(BATCH, _chunk(0), StageName.VALIDATE, _progress())
    partitions = [PartitionOutput(date=T0.date(), records=10)]
    first = ledger.record_stage(
        BATCH, _chunk(0), StageName.ENRICH, _progress(), partitions=partitions
    )

    again = ledger.record_stage(
        BATCH, _chunk(0), StageName.ENRICH, _progress(), partitions=partitions
    )

    assert first.partitions == partitions
    assert again.version == first.version
    stored = ledger.get(BATCH, 0)
    assert stored is not None and stored.partitions == partitions
