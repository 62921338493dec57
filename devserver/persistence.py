"""The local runtime's state on disk: saved as it runs and on a clean stop, restored on start.

moto keeps everything in memory. This module exports what a user would miss through
AWS's own APIs, and imports it into the next runtime's fresh resources (their physical
names differ from run to run, so everything is filed under the stack's output names):

- the raw and processed buckets' objects, one file each (only new or changed objects
  are copied on each save: a large file is written once);
- the batches, records and API keys tables, item by item (DynamoDB JSON);
- the ingest queue's and the dead-letter queues' messages (read without receiving them
  for good: they become visible again at once).

A save runs every ``SAVE_EVERY_S`` seconds and when the runtime stops cleanly; each
writes to a new folder and then renames it into place, so a ``kill -9`` during a save
leaves the previous one whole. What a ``kill -9`` loses is what happened since the last
save (at most ``SAVE_EVERY_S`` seconds). Step Functions' execution histories are not
kept (moto cannot take them back): a restored batch shows its counts, chunks, records
and rejects, not its execution graph. A batch that was running when the runtime stopped
is marked ``FAILED`` with the retryable reason ``RuntimeRestarted`` (``POST
/batches/{id}/retry`` runs it again); a batch that was received but not yet started is
queued again.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

from shared.clock import utc_now
from shared.models import BatchOutcome, BatchStatus, ErrorInfo, EventType, ExecutionInput

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from shared.context import PipelineContext
    from shared.models import BatchView

__all__ = ["SAVE_EVERY_S", "SNAPSHOT", "Clients", "Saver", "recover", "restore", "save"]

SAVE_EVERY_S = 10.0
SNAPSHOT = "snapshot"
BUCKETS = ("RawBucketName", "ProcessedBucketName")
TABLES = ("BatchesTableName", "RecordsTableName", "ApiKeysTableName")
QUEUES = ("IngestQueueUrl", "IngestDeadLetterQueueUrl", "PipelineDeadLetterQueueUrl")


class Clients:
    """The AWS clients a save or a restore uses (the local moto's)."""

    def __init__(self, s3: S3Client, dynamodb: DynamoDBClient, sqs: SQSClient) -> None:
        self.s3 = s3
        self.dynamodb = dynamodb
        self.sqs = sqs


def save(state_dir: Path, outputs: dict[str, str], clients: Clients) -> Path:
    """Write a snapshot of the runtime's data under ``state_dir``; return its folder.

    Its ``saved_at`` is when the save began reading: the snapshot holds everything written
    before then (a save that ends later may not hold what was written while it ran).
    """
    began = time.time()
    final = state_dir / SNAPSHOT
    work = state_dir / f"{SNAPSHOT}.new"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # Tables first, objects last: a chunk the ledger says is stored has its objects written
    # already, so the snapshot holds them too (the other way round it might not).
    for output in TABLES:
        _save_table(clients.dynamodb, outputs[output], work / "dynamodb" / f"{output}.jsonl")
    for output in QUEUES:
        _save_queue(clients.sqs, outputs[output], work / "sqs" / f"{output}.jsonl")
    for output in BUCKETS:
        _save_bucket(clients.s3, outputs[output], work / "s3" / output, final / "s3" / output)
    (work / "saved_at").write_text(f"{began:.3f}\n")
    old = state_dir / f"{SNAPSHOT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _save_bucket(s3: S3Client, bucket: str, into: Path, previous: Path) -> None:
    """Copy the bucket's objects; one unchanged since the last save is linked, not read again."""
    into.mkdir(parents=True, exist_ok=True)
    index: dict[str, dict[str, Any]] = {}
    old_index = _read_json(previous / "index.json") or {}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    for number, obj in enumerate(o for page in pages for o in page.get("Contents", [])):
        key, etag = obj["Key"], obj["ETag"]
        name = f"{number:08d}"
        before = old_index.get(key)
        if before is not None and before["etag"] == etag and (previous / before["file"]).exists():
            (into / name).hardlink_to(previous / before["file"])
        else:
            got = s3.get_object(Bucket=bucket, Key=key)
            with (into / name).open("wb") as out:
                shutil.copyfileobj(got["Body"], out)
        if before is None or before["etag"] != etag:
            head = s3.head_object(Bucket=bucket, Key=key)
            kinds = {
                "content_type": head.get("ContentType"),
                "encoding": head.get("ContentEncoding"),
            }
        else:
            kinds = {"content_type": before["content_type"], "encoding": before["encoding"]}
        index[key] = {"file": name, "etag": etag, **kinds}
    (into / "index.json").write_text(json.dumps(index))


def _save_table(dynamodb: DynamoDBClient, table: str, into: Path) -> None:
    into.parent.mkdir(parents=True, exist_ok=True)
    with into.open("w") as out:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                out.write(json.dumps(item, default=_bytes) + "\n")


def _save_queue(sqs: SQSClient, url: str, into: Path) -> None:
    """Write the queue's visible messages, each made visible again at once."""
    into.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with into.open("w") as out:
        for _ in range(100):
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                break
            for message in got:
                if message["MessageId"] not in seen:
                    seen.add(message["MessageId"])
                    out.write(json.dumps({"body": message["Body"]}) + "\n")
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(got)
                ],
            )
            if all(m["MessageId"] in seen for m in got) and len(seen) > len(got):
                break


def restore(state_dir: Path, outputs: dict[str, str], clients: Clients) -> dict[str, int] | None:
    """Load the last snapshot into the runtime's fresh resources; None if there is none."""
    snapshot = state_dir / SNAPSHOT
    if not (snapshot / "saved_at").exists():
        return None
    counts = {"objects": 0, "items": 0, "messages": 0}
    for output in BUCKETS:
        counts["objects"] += _restore_bucket(clients.s3, outputs[output], snapshot / "s3" / output)
    for output in TABLES:
        path = snapshot / "dynamodb" / f"{output}.jsonl"
        counts["items"] += _restore_table(clients.dynamodb, outputs[output], path)
    for output in QUEUES:
        counts["messages"] += _restore_queue(
            clients.sqs, outputs[output], snapshot / "sqs" / f"{output}.jsonl"
        )
    return counts


def _restore_bucket(s3: S3Client, bucket: str, folder: Path) -> int:
    index: dict[str, dict[str, Any]] = _read_json(folder / "index.json") or {}
    for key, entry in index.items():
        extra: dict[str, Any] = {}
        if entry.get("content_type"):
            extra["ContentType"] = entry["content_type"]
        if entry.get("encoding"):
            extra["ContentEncoding"] = entry["encoding"]
        with (folder / entry["file"]).open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    return len(index)


def _restore_table(dynamodb: DynamoDBClient, table: str, path: Path) -> int:
    if not path.exists():
        return 0
    items = [json.loads(line, object_hook=_unbytes) for line in path.read_text().splitlines()]
    for start in range(0, len(items), 25):
        requests: Any = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        pending: Any = {table: requests}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems")
    return len(items)


def _restore_queue(sqs: SQSClient, url: str, path: Path) -> int:
    if not path.exists():
        return 0
    bodies = [json.loads(line)["body"] for line in path.read_text().splitlines()]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return len(bodies)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode()}
    raise TypeError(f"cannot save {type(value).__name__}")


def _unbytes(value: dict[str, Any]) -> Any:
    return base64.b64decode(value["__b64__"]) if set(value) == {"__b64__"} else value


class Saver:
    """Saves a snapshot every ``SAVE_EVERY_S`` seconds on a thread, and once more on stop."""

    def __init__(self, state_dir: Path, outputs: dict[str, str], clients: Clients) -> None:
        self._args = (state_dir, outputs, clients)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="snapshot", daemon=True)

    def start(self) -> None:
        """Begin saving periodically."""
        self._thread.start()

    def save_now(self) -> Path:
        """Save a snapshot now (one save at a time)."""
        with self._lock:
            return save(*self._args)

    def stop(self) -> None:
        """Stop the periodic saves and save once more."""
        self._stop.set()
        self._thread.join(timeout=60)
        self.save_now()

    def _run(self) -> None:
        while not self._stop.wait(SAVE_EVERY_S):
            try:
                self.save_now()
            except Exception as err:  # noqa: BLE001 - a failed save must not stop the runtime
                from shared.observability import logger

                logger.warning("snapshot not saved", extra={"error": repr(err)})


def recover(ctx: PipelineContext, enqueue: Callable[[ExecutionInput], None]) -> dict[str, int]:
    """Settle what a stop interrupted: a running batch fails (retryable), a received one starts.

    Their executions did not survive the restart, so nothing else would ever end them.
    """
    interrupted = queued = 0
    token: str | None = None
    while True:
        batches, token = ctx.batches.list(100, token)
        for batch in batches:
            if batch.status is BatchStatus.RUNNING:
                ctx.batches.finish(_interrupted(batch), utc_now())
                interrupted += 1
            elif batch.status is BatchStatus.RECEIVED:
                enqueue(ExecutionInput(batch_id=batch.batch_id))
                queued += 1
        if token is None:
            return {"interrupted": interrupted, "queued": queued}


def _interrupted(batch: BatchView) -> BatchOutcome:
    return BatchOutcome(
        event_type=EventType.BATCH_FAILED,
        batch_id=batch.batch_id,
        dataset=batch.dataset,
        status=BatchStatus.FAILED,
        execution_arn=batch.execution_arn or "",
        counts=batch.counts,
        error=ErrorInfo(
            type="RuntimeRestarted",
            message=(
                "the local runtime stopped while this batch ran; what it stored is kept, and "
                f"POST /batches/{batch.batch_id}/retry runs the rest again"
            ),
        ),
    )
