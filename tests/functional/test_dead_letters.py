"""The dead-letter routes: list without losing, redrive (requeue or retry), discard; audited."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import ANY, Stubber

from chalicelib.api_keys import ApiKeyRepository, Scope
from chalicelib.dead_letters import MAX_BODY_CHARS, DeadLetterQueue, RedriveRequest, redrive
from shared import aws
from shared.context import get_context
from shared.errors import ConflictError
from tests.functional.conftest import csv_body, csv_rows
from tests.functional.readings_dataset import readings_csv

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline

KEY_NAME = "functional tests"  # the name of the fixture's admin key
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _failed_batch(pipeline: Pipeline, sensor: str = "EXPLODE") -> dict[str, Any]:
    """A batch whose one chunk fails: its outcome lands in the pipeline DLQ."""
    accepted = pipeline.post(readings_csv("S1", sensor), query="?dataset=readings").json_body
    batch = pipeline.wait(accepted["batch_id"])
    assert batch["status"] == "FAILED"
    return batch


def _dead_letter_the_ingest_queue(pipeline: Pipeline) -> int:
    """Receive the ingest queue's messages until its redrive policy moves them to the DLQ."""
    sqs, url = pipeline.aws["sqs"], pipeline.outputs["IngestQueueUrl"]
    receives = 0
    while sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages"
    ):
        receives += 1
        assert receives <= 10, "the ingest queue does not dead-letter"
    return receives


def _send(pipeline: Pipeline, output: str, body: str) -> str:
    sent = pipeline.aws["sqs"].send_message(QueueUrl=pipeline.outputs[output], MessageBody=body)
    return str(sent["MessageId"])


def _bodies(pipeline: Pipeline, output: str) -> list[str]:
    """Every message body of a queue (received, then made visible again)."""
    sqs, url = pipeline.aws["sqs"], pipeline.outputs[output]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in messages.get("Messages", []))


def _list(pipeline: Pipeline, query: str = "") -> dict[str, Any]:
    answer = pipeline.get(f"/dead-letters{query}")
    assert answer.status_code == 200, answer.json_body
    listing: dict[str, Any] = answer.json_body
    return listing


def _redrive(pipeline: Pipeline, body: Any) -> Any:
    return pipeline.post_json("/dead-letters/redrive", body)


def _discard(pipeline: Pipeline, body: Any, headers: dict[str, str] | None = None) -> Any:
    return pipeline.client.http.delete(
        "/dead-letters",
        headers={**pipeline.auth, "Content-Type": "application/json", **(headers or {})},
        body=json.dumps(body).encode(),
    )


def _audit(action: str) -> list[tuple[str, str, str | None, str | None]]:
    entries, _ = get_context().audit.recent(50)
    return [(e.actor, e.target, e.batch_id, e.note) for e in entries if e.action == action]


def test_listing_shows_both_queues_with_batch_and_reason_and_loses_nothing(pipeline: Pipeline):
    failed = _failed_batch(pipeline)
    header, rows = csv_rows("flights_1000.csv")
    waiting = pipeline.post(csv_body(header, rows[:2])).json_body["batch_id"]
    upload_batch = "20990101T000000-0123456789abcdef"
    pipeline.aws["s3"].put_object(
        Bucket=pipeline.outputs["RawBucketName"],
        Key=f"uploads/{upload_batch}/up-{'a' * 32}.csv",
        Body=b"x",
    )
    assert _dead_letter_the_ingest_queue(pipeline) == 5  # the queue's maxReceiveCount
    garbled = _send(pipeline, "IngestDeadLetterQueueUrl", "{not json" + "x" * MAX_BODY_CHARS)

    first, second = _list(pipeline), _list(pipeline)

    assert {m["message_id"] for m in first["messages"]} == {
        m["message_id"] for m in second["messages"]
    }
    by_batch = {(m["queue"], m["batch_id"]): m for m in second["messages"]}
    assert set(by_batch) == {
        ("pipeline", failed["batch_id"]),
        ("ingest", waiting),
        ("ingest", upload_batch),
        ("ingest", None),
    }
    outcome = by_batch[("pipeline", failed["batch_id"])]
    assert outcome["reason"] == f"ValueError: {failed['error']['message']}"
    assert json.loads(outcome["body"])["status"] == "FAILED"
    assert outcome["body_truncated"] is False
    started = by_batch[("ingest", waiting)]
    assert started["reason"] == "the starter failed 5 times to start it"
    assert json.loads(started["body"]) == {"batch_id": waiting, "run": 0}
    earlier = next(m for m in first["messages"] if m["message_id"] == started["message_id"])
    assert started["receive_count"] > earlier["receive_count"]  # listings receive too
    assert started["sent_at"] is not None
    unreadable = by_batch[("ingest", None)]
    assert unreadable["message_id"] == garbled
    assert unreadable["reason"].startswith("the starter failed 5 times to start it: ")
    assert "not JSON" in unreadable["reason"]
    assert len(unreadable["body"]) == MAX_BODY_CHARS
    assert unreadable["body_truncated"] is True
    assert {(q["queue"], q["approximate_messages"], q["listed"]) for q in second["queues"]} == {
        ("ingest", 3, 3),
        ("pipeline", 1, 1),
    }
    # Still there, and visible: a consumer receives every one of them right away.
    assert len(_bodies(pipeline, "IngestDeadLetterQueueUrl")) == 3
    assert len(_bodies(pipeline, "PipelineDeadLetterQueueUrl")) == 1
    only = _list(pipeline, "?queue=pipeline")
    assert [m["batch_id"] for m in only["messages"]] == [failed["batch_id"]]
    assert [q["queue"] for q in only["queues"]] == ["pipeline"]


def test_redriving_an_ingest_message_moves_it_back_and_the_starter_starts_the_batch(
    pipeline: Pipeline,
):
    header, rows = csv_rows("flights_1000.csv")
    batch_id = pipeline.post(csv_body(header, rows[:2])).json_body["batch_id"]
    _dead_letter_the_ingest_queue(pipeline)
    [letter] = _list(pipeline)["messages"]

    answer = _redrive(pipeline, {"queue": "ingest", "message_ids": None})

    assert answer.status_code == 200, answer.json_body
    report = answer.json_body
    assert report["results"] == [
        {
            "message_id": letter["message_id"],
            "queue": "ingest",
            "batch_id": batch_id,
            "outcome": "moved",
            "reason": None,
            "run": None,
        }
    ]
    assert report["totals"] == {"moved": 1, "moving": 0, "retried": 0, "deleted": 0, "skipped": 0}
    assert report["move_task"] is None
    assert pipeline.queue_depth("IngestDeadLetterQueueUrl") == 0
    assert pipeline.queue_depth("IngestQueueUrl") == 1
    assert pipeline.wait(batch_id)["status"] == "SUCCEEDED"
    assert _audit("redrive") == [(KEY_NAME, letter["message_id"], batch_id, None)]


def test_redriving_chosen_messages_leaves_the_rest(pipeline: Pipeline):
    bodies = [json.dumps({"batch_id": f"20990101T00000{i}-deadbeef"}) for i in range(3)]
    ids = [_send(pipeline, "IngestDeadLetterQueueUrl", body) for body in bodies]

    answer = _redrive(pipeline, {"message_ids": [UNKNOWN_ID, ids[1]], "note": "try again"})

    assert answer.status_code == 200, answer.json_body
    results = answer.json_body["results"]
    assert [(r["message_id"], r["queue"], r["outcome"]) for r in results] == [
        (UNKNOWN_ID, None, "skipped"),
        (ids[1], "ingest", "moved"),
    ]
    assert "not in the dead-letter queues" in results[0]["reason"]
    assert _bodies(pipeline, "IngestQueueUrl") == [bodies[1]]
    assert sorted(m["message_id"] for m in _list(pipeline)["messages"]) == sorted([ids[0], ids[2]])
    assert _audit("redrive") == [(KEY_NAME, ids[1], "20990101T000001-deadbeef", "try again")]


def test_an_empty_redrive_takes_up_both_queues_and_leaves_what_cannot_be_retried(
    pipeline: Pipeline,
):
    requeued = _send(pipeline, "IngestDeadLetterQueueUrl", '{"batch_id": "20990101T000000-gone"}')
    outcome = {
        "event_type": "BatchFailed",
        "batch_id": "20990101T000000-unknown",
        "dataset": "readings",
        "status": "FAILED",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sluice:x",
        "counts": {"received": 1, "processed": 0, "rejected": 0, "failed": 1},
        "error": {"type": "ValueError", "message": "boom"},
    }
    unknown = _send(pipeline, "PipelineDeadLetterQueueUrl", json.dumps(outcome))
    garbled = _send(pipeline, "PipelineDeadLetterQueueUrl", "not an outcome")

    answer = pipeline.post_json("/dead-letters/redrive")

    assert answer.status_code == 200, answer.json_body
    results = {r["message_id"]: r for r in answer.json_body["results"]}
    assert set(results) == {requeued, unknown, garbled}
    assert results[requeued]["outcome"] == "moved"
    assert results[unknown]["outcome"] == "skipped"
    assert "batch_not_found" in results[unknown]["reason"]
    assert results[garbled]["outcome"] == "skipped"
    assert results[garbled]["batch_id"] is None
    assert answer.json_body["totals"]["moved"] == 1
    assert answer.json_body["totals"]["skipped"] == 2
    assert sorted(m["message_id"] for m in _list(pipeline)["messages"]) == sorted(
        [unknown, garbled]
    )
    assert [target for _, target, _, _ in _audit("redrive")] == [requeued]


def test_redriving_a_pipeline_message_retries_its_batch_and_deletes_it(
    pipeline: Pipeline, broken: set[str]
):
    broken.add("S9")
    batch = _failed_batch(pipeline, "S9")
    batch_id = batch["batch_id"]
    [outcome] = _bodies(pipeline, "PipelineDeadLetterQueueUrl")
    _send(pipeline, "PipelineDeadLetterQueueUrl", outcome)  # the batch failed twice, say
    broken.clear()

    answer = _redrive(pipeline, {"queue": "pipeline"})

    assert answer.status_code == 200, answer.json_body
    report = answer.json_body
    assert [(r["batch_id"], r["outcome"], r["run"]) for r in report["results"]] == [
        (batch_id, "retried", 1),
        (batch_id, "retried", 1),
    ]
    assert pipeline.queue_depth("PipelineDeadLetterQueueUrl") == 0
    retried = pipeline.wait(batch_id)
    assert retried["status"] == "SUCCEEDED"
    assert len(retried["runs"]) == 2
    actions = [(a.action, a.actor) for a in pipeline.get_context_audit(batch_id)]
    assert sorted(actions) == [
        ("redrive", KEY_NAME),
        ("redrive", KEY_NAME),
        ("retry", KEY_NAME),
    ]

    # A batch that succeeded since has nothing to retry: its message stays, and says why.
    stale = _send(pipeline, "PipelineDeadLetterQueueUrl", outcome)
    again = _redrive(pipeline, {"queue": "pipeline", "message_ids": [stale]}).json_body

    [skipped] = again["results"]
    assert skipped["outcome"] == "skipped"
    assert "nothing_to_retry" in skipped["reason"]
    assert again["totals"]["skipped"] == 1
    assert [m["message_id"] for m in _list(pipeline)["messages"]] == [stale]


def test_discarding_deletes_only_the_chosen_and_records_who_and_why(pipeline: Pipeline):
    failed = _failed_batch(pipeline)
    [outcome] = _list(pipeline, "?queue=pipeline")["messages"]
    kept = _send(pipeline, "IngestDeadLetterQueueUrl", '{"batch_id": "20990101T000000-keep"}')
    gone = _send(pipeline, "IngestDeadLetterQueueUrl", '{"batch_id": "20990101T000000-gone"}')

    answer = _discard(pipeline, {"message_ids": [outcome["message_id"], gone], "note": "seen"})

    assert answer.status_code == 200, answer.json_body
    report = answer.json_body
    assert [(r["message_id"], r["queue"], r["outcome"]) for r in report["results"]] == [
        (outcome["message_id"], "pipeline", "deleted"),
        (gone, "ingest", "deleted"),
    ]
    assert report["totals"]["deleted"] == 2
    assert [m["message_id"] for m in _list(pipeline)["messages"]] == [kept]
    assert sorted(_audit("discard"), key=str) == sorted(
        [
            (KEY_NAME, outcome["message_id"], failed["batch_id"], "seen"),
            (KEY_NAME, gone, "20990101T000000-gone", "seen"),
        ],
        key=str,
    )
    [entry] = [a for a in pipeline.get_context_audit(failed["batch_id"]) if a.action == "discard"]
    assert entry.details["queue"] == "pipeline"
    assert entry.details["reason"] == outcome["reason"]
    assert json.loads(entry.details["body"])["batch_id"] == failed["batch_id"]


def test_discarding_an_unknown_message_deletes_nothing(pipeline: Pipeline):
    known = _send(pipeline, "IngestDeadLetterQueueUrl", '{"batch_id": "20990101T000000-keep"}')

    answer = _discard(pipeline, {"message_ids": [known, UNKNOWN_ID]})

    assert answer.status_code == 422
    assert answer.json_body["code"] == "unknown_message"
    assert answer.json_body["details"] == [{"message_id": UNKNOWN_ID, "problem": "unknown_message"}]
    assert [m["message_id"] for m in _list(pipeline)["messages"]] == [known]
    assert _audit("discard") == []


@pytest.mark.parametrize("scope", [Scope.READ, Scope.INGEST])
def test_a_key_without_the_admin_scope_is_refused(pipeline: Pipeline, scope: Scope):
    table = pipeline.aws["dynamodb"].Table(pipeline.outputs["ApiKeysTableName"])
    _, token = ApiKeyRepository(table).create("not an admin", [scope])
    known = _send(pipeline, "IngestDeadLetterQueueUrl", '{"batch_id": "20990101T000000-keep"}')
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    http = pipeline.client.http

    assert http.get("/dead-letters", headers=bearer).status_code == 403
    assert http.post("/dead-letters/redrive", headers=bearer, body=b"{}").status_code == 403
    body = json.dumps({"message_ids": [known]}).encode()
    assert http.delete("/dead-letters", headers=bearer, body=body).status_code == 403
    assert [m["message_id"] for m in _list(pipeline)["messages"]] == [known]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"queue": "elsewhere"}, "queue"),
        ({"message_ids": []}, "message_ids"),
        ({"message_ids": "abc"}, "message_ids"),
        ({"message_ids": ["not an id!"]}, "message_ids.0"),
        ({"message_ids": ["a"] * 101}, "message_ids"),
        ({"everything": True}, "everything"),
    ],
)
def test_a_bad_redrive_body_is_refused_with_its_field(pipeline: Pipeline, body: Any, field: str):
    answer = _redrive(pipeline, body)

    assert answer.status_code == 400
    assert answer.json_body["code"] == "malformed_request"
    assert field in [d["field"] for d in answer.json_body["details"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message_ids"),
        ({"message_ids": None}, "message_ids"),
        ({"message_ids": []}, "message_ids"),
        ({"message_ids": ["a"], "note": "x" * 2_001}, "note"),
        ({"message_ids": ["a"], "queue": "ingest"}, "queue"),
    ],
)
def test_a_bad_discard_body_is_refused_with_its_field(pipeline: Pipeline, body: Any, field: str):
    answer = _discard(pipeline, body)

    assert answer.status_code == 400
    assert answer.json_body["code"] == "malformed_request"
    assert field in [d["field"] for d in answer.json_body["details"]]


def test_bodies_that_are_not_json_and_bad_queries_are_refused(pipeline: Pipeline):
    headers = {**pipeline.auth, "Content-Type": "application/json"}

    redriven = pipeline.client.http.post("/dead-letters/redrive", headers=headers, body=b"{")
    discarded = pipeline.client.http.delete("/dead-letters", headers=headers, body=b"")
    listed = pipeline.get("/dead-letters?queue=elsewhere")
    too_many = pipeline.get("/dead-letters?limit=1000")

    for answer in (redriven, discarded, listed, too_many):
        assert answer.status_code == 400, answer.body
        assert answer.json_body["code"] == "malformed_request"


def test_on_aws_redriving_the_whole_ingest_queue_is_one_message_move_task(pipeline: Pipeline):
    # moto has no StartMessageMoveTask: SQS is stubbed, and the requests are the assertion.
    ctx = get_context()
    ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"local_runtime": False})
    )
    sqs = aws.sqs()
    dead_letter_arn = "arn:aws:sqs:us-east-1:123456789012:sluice-ingest-dlq"
    ingest_arn = "arn:aws:sqs:us-east-1:123456789012:sluice-ingest"
    body = '{"batch_id": "20990101T000000-moveme"}'
    with Stubber(sqs) as stub:
        _expect_one_held_message(stub, ctx.settings.ingest_dlq_url, body)
        stub.add_response(
            "get_queue_attributes",
            {
                "Attributes": {
                    "QueueArn": ingest_arn,
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": 5}
                    ),
                }
            },
            {"QueueUrl": ctx.settings.ingest_queue_url, "AttributeNames": ANY},
        )
        stub.add_response("receive_message", {"Messages": []}, None)
        stub.add_response("change_message_visibility_batch", {"Successful": [], "Failed": []})
        stub.add_response(
            "list_message_move_tasks",
            {"Results": [{"TaskHandle": "old", "Status": "COMPLETED"}]},
            {"SourceArn": dead_letter_arn, "MaxResults": 1},
        )
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": dead_letter_arn, "DestinationArn": ingest_arn},
        )

        report = redrive(
            RedriveRequest(queue=DeadLetterQueue.INGEST), KEY_NAME, ctx, sqs, lambda _: None
        )

        stub.assert_no_pending_responses()
    assert report.move_task is not None
    assert report.move_task.task_handle == "task-1"
    assert [(r.message_id, r.outcome.value) for r in report.results] == [("m-1", "moving")]
    assert _audit("redrive") == [(KEY_NAME, "m-1", "20990101T000000-moveme", None)]


def test_on_aws_a_running_move_task_refuses_another(pipeline: Pipeline):
    ctx = get_context()
    ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"local_runtime": False})
    )
    sqs = aws.sqs()
    with Stubber(sqs) as stub:
        _expect_one_held_message(stub, ctx.settings.ingest_dlq_url, '{"batch_id": "x"}')
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": "arn:ingest", "RedrivePolicy": "{}"}},
        )
        stub.add_response("receive_message", {"Messages": []})
        stub.add_response("change_message_visibility_batch", {"Successful": [], "Failed": []})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": "arn:dlq"}})
        stub.add_response(
            "list_message_move_tasks", {"Results": [{"TaskHandle": "t", "Status": "RUNNING"}]}
        )

        with pytest.raises(ConflictError) as raised:
            redrive(
                RedriveRequest(queue=DeadLetterQueue.INGEST), KEY_NAME, ctx, sqs, lambda _: None
            )

        stub.assert_no_pending_responses()
    assert raised.value.code == "move_in_progress"
    assert _audit("redrive") == []


def _expect_one_held_message(stub: Stubber, url: str, body: str) -> None:
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": "1"}},
        {"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]},
    )
    stub.add_response(
        "receive_message",
        {
            "Messages": [
                {
                    "MessageId": "m-1",
                    "ReceiptHandle": "r-1",
                    "Body": body,
                    "Attributes": {
                        "ApproximateReceiveCount": "5",
                        "SentTimestamp": "1700000000000",
                    },
                }
            ]
        },
        {
            "QueueUrl": url,
            "MaxNumberOfMessages": ANY,
            "VisibilityTimeout": ANY,
            "WaitTimeSeconds": 1,
            "MessageSystemAttributeNames": ANY,
        },
    )
