"""A store that fails midway is retried to exactly one copy; a refusal names its real cause.

AWS's answers are faked where botocore sends a request (the same place the local
runtime's fault plan injects them): the pipeline's code runs unchanged.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from shared import aws
from tests.functional.conftest import csv_body, csv_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.functional.conftest import Pipeline


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _answer(request: Any, status: int, content_type: str, body: bytes) -> AWSResponse:
    headers = HTTPHeaders()
    headers["Content-Type"] = content_type
    return AWSResponse(request.url, status, headers, _Body(body))


@pytest.fixture
def refuse(pipeline: Pipeline) -> Iterator[Callable[[str, Callable[[Any, int], Any]], None]]:
    """Answer chosen requests of this process's clients: ``refuse(event, answer(request, n))``."""
    registered: list[tuple[Any, str, Any]] = []
    seen: Counter[str] = Counter()

    def add(event: str, answer: Callable[[Any, int], Any]) -> None:
        def handler(request: Any, **kwargs: Any) -> Any:
            seen[event] += 1
            return answer(request, seen[event])

        client = aws.s3() if ".s3." in event else aws.dynamodb().meta.client
        client.meta.events.register_first(event, handler)
        registered.append((client, event, handler))

    yield add
    for client, event, handler in registered:
        client.meta.events.unregister(event, handler)


def _flights(pipeline: Pipeline, rows: int, broken: int = 0) -> dict[str, Any]:
    header, flights = csv_rows("flights_1000.csv")
    _, bad = csv_rows("flights_broken.csv")
    body = csv_body(header, flights[:rows] + bad[:broken])
    return pipeline.wait(pipeline.post(body).json_body["batch_id"])


def test_a_store_that_fails_midway_is_retried_to_exactly_one_copy(
    pipeline: Pipeline, refuse: Callable[[str, Callable[[Any, int], Any]], None]
):
    # The 20th processed object's PUT answers SlowDown ten times (beyond the SDK's retries
    # of it), so Store fails after writing 19 objects and the state machine runs it again.
    processed: Counter[str] = Counter()

    def slow_down(request: Any, count: int) -> Any:
        if "/processed/" not in request.url:
            return None
        processed["puts"] += 1
        if 20 <= processed["puts"] <= 29:
            body = b"<Error><Code>SlowDown</Code><Message>slow down</Message></Error>"
            return _answer(request, 503, "application/xml", body)
        return None

    def throttle(request: Any, count: int) -> Any:
        # Then its writes of rejects are throttled, over and over: it fails once more.
        if 2 <= count <= 11:
            body = b'{"__type":"#ProvisionedThroughputExceededException","message":"slow"}'
            return _answer(request, 400, "application/x-amz-json-1.0", body)
        return None

    refuse("before-send.s3.PutObject", slow_down)
    refuse("before-send.dynamodb.BatchWriteItem", throttle)

    batch = _flights(pipeline, 400, broken=12)

    assert batch["status"] == "COMPLETED_WITH_REJECTS", batch["error"]
    assert batch["counts"] == {"received": 412, "processed": 400, "rejected": 12, "failed": 0}
    assert batch["stages"]["store"]["failed_attempts"] >= 1
    stored = [r["lineage"]["line"] for r in pipeline.processed_lines(batch["batch_id"])]
    assert sorted(stored) == list(range(2, 402))  # every record once, none twice
    rejects = pipeline.get(f"/batches/{batch['batch_id']}/records?status=rejected").json_body
    assert sorted(r["line"] for r in rejects["records"]) == list(range(402, 414))


def test_a_refused_write_fails_its_chunk_naming_the_aws_code_operation_and_chunk(
    pipeline: Pipeline, refuse: Callable[[str, Callable[[Any, int], Any]], None]
):
    def refused(request: Any, count: int) -> Any:
        if b"PutRequest" not in (request.body or b""):
            return None  # withdrawing a failed chunk's rejects still works
        body = b'{"__type":"#ValidationException","message":"Item size has exceeded the limit"}'
        return _answer(request, 400, "application/x-amz-json-1.0", body)

    refuse("before-send.dynamodb.BatchWriteItem", refused)

    batch = _flights(pipeline, 10, broken=2)

    assert batch["status"] == "FAILED"
    error = batch["error"]
    assert error["type"] == "AwsRequestError"
    assert error["message"].startswith("ValidationException on BatchWriteItem")
    assert error["chunk"] == 0
    assert batch["counts"] == {"received": 12, "processed": 0, "rejected": 0, "failed": 12}
    [chunk] = pipeline.get(f"/batches/{batch['batch_id']}/chunks").json_body["chunks"]
    assert chunk["last_attempt_error"] == "ValidationException on BatchWriteItem"
    assert chunk["failed_stage"] == "store"
