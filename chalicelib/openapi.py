"""The API's OpenAPI 3.1 document, generated from the same pydantic models the views use."""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from chalicelib.execution_view import ExecutionView
from chalicelib.schemas import ChunkDetail, ChunkPage, DatasetList, PartitionPage
from chalicelib.uploads import UploadRequest, UploadTicket
from shared.ledger import ChunkStatus
from shared.models import BatchAccepted, BatchPage, BatchView, ErrorBody, RecordPage
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


@functools.cache
def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document (built once per process)."""
    requests = (JsonBatchRequest, UploadRequest)
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
