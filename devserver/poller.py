"""Poll the ingest queue and call the starter handler, as Lambda's SQS event source mapping does.

Messages the handler reports in ``batchItemFailures`` (or all of them, if it raises)
are left on the queue to be redelivered after the visibility timeout, and moved to the
dead-letter queue by SQS's own redrive policy after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from devserver.lambda_dispatch import Handler, LocalLambdaContext
from shared.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["SqsPoller"]


class SqsPoller:
    """A background thread feeding one queue to one handler in batches of up to ten."""

    def __init__(
        self, sqs: SQSClient, queue_url: str, queue_arn: str, handler: Handler, name: str
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._handler = handler
        self._name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poll-{name}", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current poll."""
        self._stop.set()
        self._thread.join(timeout=5)

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Receive one batch, hand it to the handler, delete what succeeded; return the count."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self._handler(event, LocalLambdaContext(function_name=self._name))
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception as err:  # noqa: BLE001 - as on Lambda, a failed invocation returns every message
            logger.warning("event source handler failed", extra={"error": type(err).__name__})
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(messages)

    def _record(self, message: Any) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": "us-east-1",
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as err:  # noqa: BLE001 - a poller must outlive one bad poll
                logger.warning("poll failed", extra={"error": repr(err)})
                self._stop.wait(1)
