"""The ingest queue's consumer: one execution per batch, however often its message arrives."""

from __future__ import annotations

import json

import app
from tests.functional.conftest import Pipeline, csv_body, csv_rows

HEADER, ROWS = csv_rows("flights_1000.csv")


def test_a_redelivered_message_starts_no_second_execution(pipeline: Pipeline):
    batch_id = pipeline.post(csv_body(HEADER, ROWS[:2])).json_body["batch_id"]
    pipeline.aws["sqs"].send_message(
        QueueUrl=pipeline.outputs["IngestQueueUrl"], MessageBody=json.dumps({"batch_id": batch_id})
    )

    assert pipeline.start_queued() == 2
    batch = pipeline.wait(batch_id)

    executions = pipeline.aws["stepfunctions"].list_executions(
        stateMachineArn=pipeline.outputs["StateMachineArn"]
    )["executions"]
    assert [e["name"] for e in executions] == [batch_id]
    assert batch["status"] == "SUCCEEDED"
    assert pipeline.queue_depth("IngestQueueUrl") == 0


def test_bad_messages_are_reported_failed_and_the_good_one_starts(pipeline: Pipeline):
    batch_id = pipeline.post(csv_body(HEADER, ROWS[:2])).json_body["batch_id"]
    sqs = pipeline.aws["sqs"]
    queue = pipeline.outputs["IngestQueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"batch_id": "20990101T000000-ffff"}))
    sqs.send_message(QueueUrl=queue, MessageBody="not json")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 3
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": pipeline.outputs["IngestQueueArn"],
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }

    result = app.start_batches(event, None)

    bad = {m["MessageId"] for m in messages if batch_id not in m["Body"]}
    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == bad
    executions = pipeline.aws["stepfunctions"].list_executions(
        stateMachineArn=pipeline.outputs["StateMachineArn"]
    )["executions"]
    assert [e["name"] for e in executions] == [batch_id]
    assert pipeline.wait(batch_id)["status"] == "SUCCEEDED"
