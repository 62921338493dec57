"""Sluice: records go in through the API and come out validated, transformed and enriched.

The story of one batch:

1. ``POST /batches`` (``chalicelib/api.py``) refuses bad input before anything is
   stored, then writes the raw body to S3, the batch item (``RECEIVED``) to DynamoDB,
   and a message to the SQS ingest queue; it answers 202 with the batch id.
2. ``start_batches`` reads the queue and starts one Standard Step Functions execution
   per batch, named after the batch, so a duplicate message starts nothing.
3. The state machine (``statemachine/pipeline.asl.json``) runs ``split``, then maps over
   the chunks with ``validate`` → ``transform`` → ``enrich`` → ``store``, accounts a
   failed chunk with ``record_chunk_failure``, and ends in ``finalize`` (counts, status,
   an event on SNS) or ``mark_failed`` (the failure path, with the dead-letter queue).
4. ``GET /batches/...`` reads status and records back from DynamoDB.

This module only wires: each function below hands its event to a handler in
``stages/`` or ``chalicelib/``. The names given to Chalice are the Lambda function
names the ASL's ``DefinitionSubstitutions`` expect.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, SQSEvent

from chalicelib.api import api
from chalicelib.starter import handle_ingest_messages
from shared.observability import observe_http
from stages import enrich as enrich_stage
from stages import finalize as finalize_stage
from stages import mark_failed as mark_failed_stage
from stages import record_chunk_failure as record_chunk_failure_stage
from stages import split as split_stage
from stages import store as store_stage
from stages import transform as transform_stage
from stages import validate as validate_stage

INGEST_QUEUE_NAME = "sluice-ingest"

app = Chalice(app_name="sluice")
app.register_blueprint(api)
app.register_middleware(observe_http, "http")


@app.on_sqs_message(queue=INGEST_QUEUE_NAME, batch_size=10, name="start_batches")
def start_batches(event: SQSEvent) -> dict[str, Any]:
    """Start an execution per queued batch."""
    return handle_ingest_messages(event.to_dict(), event.context)


@app.lambda_function(name="split")
def split(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``Split`` state."""
    return split_stage.handler(event, context)


@app.lambda_function(name="validate")
def validate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``Validate`` state."""
    return validate_stage.handler(event, context)


@app.lambda_function(name="transform")
def transform(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``Transform`` state."""
    return transform_stage.handler(event, context)


@app.lambda_function(name="enrich")
def enrich(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``Enrich`` state."""
    return enrich_stage.handler(event, context)


@app.lambda_function(name="store")
def store(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``Store`` state."""
    return store_stage.handler(event, context)


@app.lambda_function(name="record_chunk_failure")
def record_chunk_failure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``RecordChunkFailure`` state."""
    return record_chunk_failure_stage.handler(event, context)


@app.lambda_function(name="finalize")
def finalize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``Finalize`` state."""
    return finalize_stage.handler(event, context)


@app.lambda_function(name="mark_failed")
def mark_failed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``MarkFailed`` state."""
    return mark_failed_stage.handler(event, context)
