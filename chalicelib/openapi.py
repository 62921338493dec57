"""The API's OpenAPI 3.1 document, generated from the same pydantic models the views use."""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from chalicelib.execution_view import ExecutionView
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
    _, schema = models_json_schema(
        [
            (model, "serialization" if model is not JsonBatchRequest else "validation")
            for model in (
                ExecutionView,
                BatchAccepted,
                BatchPage,
                BatchView,
                ErrorBody,
                RecordPage,
                JsonBatchRequest,
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
            "/batches/{batch_id}": {
                "get": {
                    "parameters": [batch_id],
                    "responses": {"200": _json("BatchView", "The batch."), **_errors(404)},
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
