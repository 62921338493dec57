"""Metrics per stage: what each stage did to records, as EMF lines, and the starter's counts."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from chalicelib import starter
from shared.lambda_runtime import run_stage
from shared.models import (
    ChunkOutcome,
    ChunkPayload,
    ChunkRef,
    ObjectRef,
    RecordCounts,
    SplitInput,
    SplitResult,
)
from shared.observability import observe_invocation, tracer, tracing_enabled
from stages.chunk_mapping import passed_on
from stages.split import split_counts

BATCH = "20261126T000000-0123456789abcdef"
EXECUTION = f"arn:aws:states:us-east-1:123456789012:execution:sluice-dev-pipeline:{BATCH}"


def _chunk(records: int, rejected: int = 0) -> ChunkPayload:
    return ChunkPayload(
        batch_id=BATCH,
        dataset="flights",
        execution_arn=EXECUTION,
        source_key=f"raw/flights/{BATCH}.csv",
        chunk=ChunkRef(
            index=0, key="chunks/k", records=records, first_line=2, last_line=records + 1
        ),
        current_key="chunks/k",
        rejected=rejected,
    )


def _emf_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_validate_counts_the_rows_it_rejects():
    counts = passed_on(_chunk(1000), _chunk(1000, rejected=12))
    assert counts == RecordCounts(received=1000, processed=988, rejected=12)


def test_later_stages_count_only_the_records_still_valid():
    counts = passed_on(_chunk(1000, rejected=12), _chunk(1000, rejected=12))
    assert counts == RecordCounts(received=988, processed=988, rejected=0)


def test_store_and_chunk_failures_count_the_chunks_valid_records():
    stored = ChunkOutcome(index=0, received=1000, processed=988, rejected=12, failed=0)
    failed = ChunkOutcome(index=1, received=500, processed=0, rejected=0, failed=500)
    assert stored.stage_counts() == RecordCounts(received=988, processed=988)
    assert failed.stage_counts() == RecordCounts(received=500, processed=0, failed=500)


def test_split_counts_every_record_it_read_as_passed_on():
    split = SplitResult(
        dataset="flights",
        source_key="raw/x",
        records_received=1012,
        chunks_total=2,
        manifest=ObjectRef(bucket="raw", key="chunks/x/manifest.json"),
        max_concurrency=4,
    )
    request = SplitInput(batch_id=BATCH, execution_arn=EXECUTION)
    assert split_counts(request, split) == RecordCounts(received=1012, processed=1012)


def test_a_stage_publishes_its_counts_and_duration_with_the_batch_as_metadata(
    capsys: pytest.CaptureFixture[str],
):
    answer = run_stage(
        "validate",
        _chunk(10).model_dump(mode="json"),
        None,
        ChunkPayload,
        lambda payload: payload.model_copy(update={"rejected": 3}),
        passed_on,
    )

    assert answer["rejected"] == 3
    (emf,) = _emf_lines(capsys.readouterr().out)
    definition = emf["_aws"]["CloudWatchMetrics"][0]
    assert definition["Namespace"] == "Sluice"
    assert sorted(definition["Dimensions"][0]) == ["service", "stage"]
    assert {m["Name"] for m in definition["Metrics"]} == {
        "Duration",
        "RecordsReceived",
        "RecordsProcessed",
        "RecordsRejected",
        "RecordsFailed",
    }
    assert (emf["stage"], emf["service"]) == ("validate", "sluice")
    assert (emf["RecordsReceived"], emf["RecordsProcessed"], emf["RecordsRejected"]) == (
        [10.0],
        [7.0],
        [3.0],
    )
    assert (emf["batch_id"], emf["execution"]) == (BATCH, EXECUTION)


def test_a_failed_stage_publishes_no_metrics(capsys: pytest.CaptureFixture[str]):
    def fail(payload: ChunkPayload) -> ChunkPayload:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_stage(
            "transform", _chunk(10).model_dump(mode="json"), None, ChunkPayload, fail, passed_on
        )

    assert _emf_lines(capsys.readouterr().out) == []


def test_each_invocation_flushes_its_own_dimensions(capsys: pytest.CaptureFixture[str]):
    with observe_invocation("first") as invocation:
        invocation.extra_metrics["Things"] = 2
    with observe_invocation("second"):
        pass

    first, second = _emf_lines(capsys.readouterr().out)
    assert (first["stage"], first["Things"]) == ("first", [2.0])
    assert second["stage"] == "second"
    assert "Things" not in second


def test_tracing_is_off_outside_lambda_and_the_xray_sdk_is_not_loaded():
    assert not tracing_enabled()
    assert tracer() is None
    assert "aws_xray_sdk.core" not in sys.modules


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [
        ({"AWS_LAMBDA_FUNCTION_NAME": "sluice-dev-validate"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_CHALICE_CLI_MODE": "true"}, False),
        ({}, False),
    ],
)
def test_tracing_follows_powertools_rule(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], enabled: bool
):
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_TRACE_DISABLED", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert tracing_enabled() is enabled


def test_the_starter_counts_started_and_failed_messages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    def start(record: Any) -> tuple[str | None, bool]:
        if record.body == "bad":
            raise ValueError("not a batch")
        return None, False

    monkeypatch.setattr(starter, "_start_from_record", start)
    records = [
        {
            "messageId": str(index),
            "receiptHandle": "r",
            "body": body,
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sluice-ingest",
            "awsRegion": "us-east-1",
        }
        for index, body in enumerate(["ok", "bad", "ok"])
    ]

    answer = starter.handle_ingest_messages({"Records": records}, None)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    (emf,) = _emf_lines(capsys.readouterr().out)
    assert emf["stage"] == "start_batches"
    assert (emf["MessagesReceived"], emf["BatchesStarted"], emf["MessagesFailed"]) == (
        [3.0],
        [2.0],
        [1.0],
    )


def test_api_requests_are_measured_by_the_http_middleware(capsys: pytest.CaptureFixture[str]):
    from chalice.app import Chalice, Response
    from chalice.test import Client

    from shared.observability import observe_http

    app = Chalice(app_name="observed")
    app.register_middleware(observe_http, "http")

    @app.route("/ok")
    def ok() -> dict[str, str]:
        return {"status": "ok"}

    @app.route("/broken")
    def broken() -> Response:
        return Response(body={"code": "oops"}, status_code=503)

    with Client(app) as client:
        assert client.http.get("/ok").status_code == 200
        assert client.http.get("/broken").status_code == 503

    ok_line, broken_line = _emf_lines(capsys.readouterr().out)
    assert ok_line["stage"] == "api"
    assert (ok_line["Requests"], ok_line["ServerErrors"]) == ([1.0], [0.0])
    assert (broken_line["Requests"], broken_line["ServerErrors"]) == ([1.0], [1.0])
