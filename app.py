"""Sluice: records go in through the API and come out validated, transformed and enriched.

The story of one batch:

1. It comes in one of two ways. ``POST /batches`` (``chalicelib/api.py``) takes a body
   of up to 5 MB, refuses bad input before anything is stored, then writes the raw body
   to S3, the batch item (``RECEIVED``) to DynamoDB and a message to the SQS ingest
   queue, and answers 202. A larger file is declared with ``POST /uploads``, which
   answers with a presigned S3 POST; when the file lands under ``uploads/``, S3 tells
   EventBridge, and a rule puts the event on the same ingest queue.
2. ``start_batches`` reads the queue: it makes the batch of an arrived upload, and
   starts one Standard Step Functions execution per batch, named after the batch, so a
   duplicate message or event starts nothing.
3. The state machine (``statemachine/pipeline.asl.json``) runs ``split``, which streams
   the raw object into chunk objects and a manifest; a Distributed Map reads the
   manifest and runs each chunk through ``validate`` → ``transform`` → ``enrich`` →
   ``store`` (a failed chunk goes to ``record_chunk_failure``), each writing the chunk's
   progress to the chunk ledger; ``finalize`` reads the ledger's summary (counts,
   status, an event on SNS), and ``mark_failed`` is the failure path (with the
   dead-letter queue).
4. ``GET /batches/...`` reads status from the ledger's summary, rejects from DynamoDB
   and processed records from S3.

This module only wires: each function below hands its event to a handler in
``stages/`` or ``chalicelib/``. The names given to Chalice are the Lambda function
names the ASL's ``DefinitionSubstitutions`` expect.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, SQSEvent

from chalicelib.api import BINARY_BODY_TYPES, api
from chalicelib.starter import handle_ingest_messages
from shared.observability import observe_http
from stages import STATE_FUNCTIONS, state_name

if TYPE_CHECKING:
    from collections.abc import Callable

INGEST_QUEUE_NAME = "sluice-ingest"

app = Chalice(app_name="sluice")
# Request bodies of these types arrive as bytes, untouched (a gzip body is not text).
app.api.binary_types.extend(BINARY_BODY_TYPES)
app.register_blueprint(api)
app.register_middleware(observe_http, "http")


@app.on_sqs_message(queue=INGEST_QUEUE_NAME, batch_size=10, name="start_batches")
def start_batches(event: SQSEvent) -> dict[str, Any]:
    """Start an execution per queued batch (or arrived upload)."""
    return handle_ingest_messages(event.to_dict(), event.context)


def _state_function(name: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler of one state: it imports its stage module on first use, and calls it."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        stage = importlib.import_module(f"stages.{name}")
        answer: dict[str, Any] = stage.handler(event, context)
        return answer

    # Chalice names the Lambda handler "app.<__name__>"; it must be this module's attribute.
    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = f"The ``{state_name(name)}`` state."
    return handler


for _name in STATE_FUNCTIONS:
    globals()[_name] = app.lambda_function(name=_name)(_state_function(_name))
