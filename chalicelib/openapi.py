"""The API's OpenAPI 3.1 document, generated from the same pydantic models the views use."""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from chalicelib.dead_letters import (
    MAX_MESSAGES,
    DeadLetterList,
    DeadLetterQueue,
    DiscardReport,
    DiscardRequest,
    RedriveReport,
    RedriveRequest,
)
from chalicelib.execution_view import ExecutionView
from chalicelib.failures import FailurePage, FailureState, HandleReport, HandleRequest
from chalicelib.lineage import RecordLineage
from chalicelib.replay import ReplayAccepted, ReplayRequest
from chalicelib.retry import RetryAccepted, RetryRequest
from chalicelib.schemas import (
    AuditPage,
    BatchAccepted,
    BatchPage,
    ChunkDetail,
    ChunkPage,
    DatasetList,
    ErrorBody,
    PartitionPage,
    RecordPage,
    UsageTotal,
)
from chalicelib.uploads import UploadRequest, UploadTicket
from shared.ledger import ChunkStatus
from shared.models import BatchView
from shared.raw_input import JsonBatchRequest

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json("ErrorBody", "Refused; the body says why.") for s in statuses}


def _body(schema: str, required: bool = True) -> dict[str, Any]:
    return {
        "required": required,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}},
    }


ADMIN = "Needs an API key with the admin scope; the action is recorded with the key's name."


@functools.cache
def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document (built once per process)."""
    requests = (
        JsonBatchRequest,
        UploadRequest,
        RetryRequest,
        ReplayRequest,
        RedriveRequest,
        DiscardRequest,
        HandleRequest,
    )
    _, schema = models_json_schema(
        [
            (model, "validation" if model in requests else "serialization")
            for model in (
                ExecutionView,
                BatchAccepted,
                BatchPage,
                BatchView,
                ErrorBody,
                RecordPage,
                ChunkPage,
                ChunkDetail,
                DatasetList,
                PartitionPage,
                UploadTicket,
                RetryAccepted,
                ReplayAccepted,
                RecordLineage,
                UsageTotal,
                FailurePage,
                HandleReport,
                AuditPage,
                DeadLetterList,
                RedriveReport,
                DiscardReport,
                *requests,
            )
        ],
        ref_template=_REF,
    )
    batch_id = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}
    page = [
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
        },
        {"name": "next", "in": "query", "schema": {"type": "string"}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sluice API", "version": "1"},
        "paths": {
            "/health": {
                "get": {"security": [], "responses": {"200": {"description": "The API is up."}}}
            },
            "/batches": {
                "post": {
                    "summary": "Ingest a batch",
                    "parameters": [
                        {
                            "name": "dataset",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "Required for CSV and NDJSON bodies.",
                        },
                        {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
                        {
                            "name": "Content-Encoding",
                            "in": "header",
                            "schema": {"type": "string", "enum": ["gzip", "identity"]},
                            "description": "gzip for a compressed CSV or NDJSON body.",
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="JsonBatchRequest")}
                            },
                            "text/csv": {"schema": {"type": "string"}},
                            "application/x-ndjson": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "202": _json("BatchAccepted", "Accepted; the pipeline runs it."),
                        **_errors(400, 409, 413, 415, 422),
                    },
                },
                "get": {
                    "summary": "List batches, newest first",
                    "parameters": page,
                    "responses": {"200": _json("BatchPage", "A page of batches."), **_errors(400)},
                },
            },
            "/uploads": {
                "post": {
                    "summary": "Declare a file; get a presigned S3 POST for it",
                    "description": (
                        "The batch is made when the file lands in S3. With an Idempotency-Key, "
                        "asking again returns a fresh POST for the same object until the file "
                        "has arrived (201), then the batch (200, duplicate)."
                    ),
                    "parameters": [
                        {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="UploadRequest")}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("UploadTicket", "Send the file with the POST it names."),
                        "200": _json("UploadTicket", "The file has arrived: its batch."),
                        **_errors(400, 409, 413, 415, 422),
                    },
                }
            },
            "/batches/{batch_id}": {
                "get": {
                    "parameters": [batch_id],
                    "responses": {
                        "200": _json("BatchView", "The batch, with its ledger's summary."),
                        "404": _json(
                            "ErrorBody",
                            "No such batch, or (upload_pending) its file is on its way.",
                        ),
                    },
                }
            },
            "/batches/{batch_id}/chunks": {
                "get": {
                    "summary": "A batch's chunk ledger, page by page",
                    "parameters": [
                        batch_id,
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": [s.value for s in ChunkStatus]},
                        },
                        *page,
                    ],
                    "responses": {
                        "200": _json("ChunkPage", "A page of chunks."),
                        **_errors(400, 404),
                    },
                }
            },
            "/batches/{batch_id}/chunks/{index}": {
                "get": {
                    "summary": "One chunk: its ledger entry and (on AWS) its child execution",
                    "parameters": [
                        batch_id,
                        {
                            "name": "index",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        },
                    ],
                    "responses": {"200": _json("ChunkDetail", "The chunk."), **_errors(404)},
                }
            },
            "/failures": {
                "get": {
                    "summary": "The failure inbox, newest first",
                    "description": (
                        f"{ADMIN} Failed batches and chunks, rejects grouped by field and rule "
                        "(with counts and sample lines), and dead letters, each with its state: "
                        "open, retried (a later run took it up), replayed (every reject of the "
                        "rule was replayed), handled (marked with a note). A page covers "
                        "`limit` batches of the listing; the dead letters come on the first."
                    ),
                    "parameters": [
                        {"name": n, "in": "query", "schema": {"type": "string"}}
                        for n in ("dataset", "batch", "rule", "kind")
                    ]
                    + [
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"type": "string", "enum": [s.value for s in FailureState]},
                        },
                        *page,
                    ],
                    "responses": {
                        "200": _json("FailurePage", "A page of the inbox."),
                        **_errors(400, 403, 404),
                    },
                }
            },
            "/failures/handle": {
                "post": {
                    "summary": "Mark inbox items handled, with a note",
                    "description": (
                        f"{ADMIN} Batches, chunks and rejects keep the mark (who, when, the "
                        "note); a dead letter handled is discarded. 422 unknown_item: an item "
                        "does not exist, and nothing is marked."
                    ),
                    "requestBody": _body("HandleRequest"),
                    "responses": {
                        "200": _json("HandleReport", "How many were marked."),
                        **_errors(400, 403, 422),
                    },
                }
            },
            "/audit": {
                "get": {
                    "summary": "The audit trail, newest first",
                    "description": (
                        f"{ADMIN} Every retry, replay, redrive, discard and mark: the action, "
                        "the key's name, when, what it acted on, the note. `batch` narrows "
                        "it to one batch."
                    ),
                    "parameters": [
                        {"name": "batch", "in": "query", "schema": {"type": "string"}},
                        *page,
                    ],
                    "responses": {
                        "200": _json("AuditPage", "A page of the trail."),
                        **_errors(400, 403),
                    },
                }
            },
            "/usage": {
                "get": {
                    "summary": "What every batch so far has cost, at list prices",
                    "description": (
                        "The sum of each batch's counted usage (the `cost` of GET /batches/{id}):"
                        " every AWS call its functions made, their Lambda time, and Step "
                        "Functions' transitions; `estimated` says what is estimated."
                    ),
                    "responses": {"200": _json("UsageTotal", "The total.")},
                }
            },
            "/datasets": {
                "get": {
                    "summary": "The registered datasets",
                    "responses": {"200": _json("DatasetList", "The datasets.")},
                }
            },
            "/datasets/{dataset}/records": {
                "get": {
                    "summary": "One date partition of a dataset's records, across batches",
                    "parameters": [
                        {
                            "name": "dataset",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "date",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "format": "date"},
                        },
                        {
                            "name": "filters",
                            "in": "query",
                            "style": "form",
                            "explode": True,
                            "schema": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "description": "Filters the dataset declares (flights: carrier, ...).",
                        },
                        *page,
                    ],
                    "responses": {
                        "200": _json("PartitionPage", "A page of records."),
                        **_errors(400, 422),
                    },
                }
            },
            "/batches/{batch_id}/execution": {
                "get": {
                    "summary": "The batch's execution: the ASL and each state's outcome",
                    "parameters": [batch_id],
                    "responses": {
                        "200": _json("ExecutionView", "The execution."),
                        **_errors(404),
                    },
                }
            },
            "/batches/{batch_id}/retry": {
                "post": {
                    "summary": "Run a failed batch again: its failed chunks, or from the start",
                    "description": (
                        f"{ADMIN} A new execution <batch_id>-r<n> runs only the failed chunks "
                        "(all, or those in `chunks`); expired chunk objects are cut again from "
                        "the raw object, and the totals come from each chunk's latest state. A "
                        "batch that failed at split or finalize runs again from the start; one "
                        "whose execution stopped (timed out, aborted) is redriven on AWS. 409: "
                        "batch_running, nothing_to_retry, not_retryable, retry_in_progress. "
                        "422: unknown_chunk, chunk_not_failed."
                    ),
                    "parameters": [batch_id],
                    "requestBody": _body("RetryRequest", required=False),
                    "responses": {
                        "202": _json("RetryAccepted", "The run is queued."),
                        **_errors(400, 403, 404, 409, 422),
                    },
                }
            },
            "/batches/{batch_id}/replay": {
                "post": {
                    "summary": "Replay edited rejects as a child batch linked to this one",
                    "description": (
                        f"{ADMIN} Every edited record is validated first: if any is still "
                        "invalid, 422 still_invalid lists each one's reasons and nothing is "
                        "stored, unless `partial` replays the valid ones. The rejects keep "
                        "their values and reasons and are marked replayed_to the child; the "
                        "child's records carry the parent's batch and line in their lineage. "
                        "The same edits (or Idempotency-Key) again answer 200 with the same "
                        "child. 409 already_replayed: another replay took a line up. 422 "
                        "not_a_reject: a line is not a reject of the batch."
                    ),
                    "parameters": [
                        batch_id,
                        {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
                    ],
                    "requestBody": _body("ReplayRequest"),
                    "responses": {
                        "202": _json("ReplayAccepted", "The child batch is queued."),
                        "200": _json("ReplayAccepted", "These edits were replayed already."),
                        **_errors(400, 403, 404, 409, 422),
                    },
                }
            },
            "/batches/{batch_id}/records/{line}": {
                "get": {
                    "summary": "The lineage of one source line",
                    "description": (
                        "Its values as received, the request or upload, the run and chunk, "
                        "when each stage touched it, its reasons if rejected, where it is "
                        "stored, and the replay it led to or came from."
                    ),
                    "parameters": [
                        batch_id,
                        {
                            "name": "line",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                        },
                    ],
                    "responses": {
                        "200": _json("RecordLineage", "The record's story."),
                        **_errors(404),
                    },
                }
            },
            "/batches/{batch_id}/records": {
                "get": {
                    "parameters": [
                        batch_id,
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["processed", "rejected"]},
                        },
                        *page,
                    ],
                    "responses": {
                        "200": _json("RecordPage", "A page of records."),
                        **_errors(400, 404),
                    },
                }
            },
            **_dead_letter_paths(),
        },
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key with the read, ingest or admin scope.",
                }
            },
        },
        "security": [{"apiKey": []}],
    }


def _dead_letter_paths() -> dict[str, Any]:
    """The dead-letter routes (``chalicelib/dead_letters.py``)."""
    ids = f"At most {MAX_MESSAGES} message ids."
    return {
        "/dead-letters": {
            "get": {
                "summary": "The messages of the ingest and pipeline dead-letter queues",
                "description": (
                    "Needs an API key with the admin scope. Peeked: each message is received "
                    "and made visible again at once, so it stays in its queue (its "
                    "receive_count grows). Each names its batch and why it failed; newest "
                    "first, at most `limit` of each queue."
                ),
                "parameters": [
                    {
                        "name": "queue",
                        "in": "query",
                        "schema": {"type": "string", "enum": [q.value for q in DeadLetterQueue]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_MESSAGES},
                    },
                ],
                "responses": {
                    "200": _json("DeadLetterList", "The messages, and each queue's depth."),
                    **_errors(400, 403),
                },
            },
            "delete": {
                "summary": "Discard chosen dead letters",
                "description": (
                    f"{ADMIN} {ids} All or none: 422 unknown_message lists the ids in neither "
                    "queue, and nothing is deleted."
                ),
                "requestBody": _body("DiscardRequest"),
                "responses": {
                    "200": _json("DiscardReport", "Deleted, one result per message."),
                    **_errors(400, 403, 422),
                },
            },
        },
        "/dead-letters/redrive": {
            "post": {
                "summary": "Redrive dead letters: ingest ones requeued, pipeline ones retried",
                "description": (
                    f"{ADMIN} {ids} No ids: every message of `queue` (null: both). An ingest "
                    "message goes back to the ingest queue (sent, then deleted; on AWS the "
                    "whole queue is one SQS message move task, `moving`). A pipeline message "
                    "retries its batch (POST /batches/{id}/retry) and is deleted once the retry "
                    "is accepted; one that cannot be retried stays, `skipped` with the reason. "
                    "409 move_in_progress: a move task is already running (AWS)."
                ),
                "requestBody": _body("RedriveRequest", required=False),
                "responses": {
                    "200": _json("RedriveReport", "One result per message, and totals."),
                    **_errors(400, 403, 409),
                },
            }
        },
    }
