"""The HTTP API (v1): ingest batches and read their status and records.

Views only parse the request, call the core and format the answer; every refused
request becomes a JSON 4xx through ``api_errors``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Annotated, Any

from chalice.app import AuthRequest, AuthResponse, Blueprint, CORSConfig, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.auth import authorize
from chalicelib.execution_view import execution_view
from chalicelib.http_errors import api_errors, json_response
from chalicelib.ingest import IngestRequest, ingest
from chalicelib.openapi import openapi_document
from shared import aws
from shared.context import get_context
from shared.errors import BatchNotFoundError, MalformedRequestError, NotFoundError
from shared.models import BATCH_ID_PATTERN, BatchPage, ExecutionInput, RecordPage
from shared.observability import logger
from shared.records import RecordStatus

__all__ = ["ACCEPTED_CONTENT_TYPES", "api"]

api = Blueprint(__name__)

# Chalice would answer other types with its own 415; we take them all and refuse in one place.
ACCEPTED_CONTENT_TYPES = ["*/*"]


def _cors() -> CORSConfig | None:
    # Only the configured dashboard origin may call the API from a browser; read at
    # package time, as Chalice writes CORS into the API definition.
    origin = os.environ.get("SLUICE_DASHBOARD_ORIGIN")
    if not origin:
        return None
    return CORSConfig(
        allow_origin=origin,
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        expose_headers=["Location"],
        max_age=600,
    )


CORS = _cors()


@api.authorizer(ttl_seconds=60)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Let a bearer API key call the routes its scopes allow."""
    return authorize(auth_request)


class PageQuery(BaseModel):
    """Query parameters of a paginated listing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Annotated[int, Field(ge=1, le=200)] = 25
    next: Annotated[str | None, Field(max_length=2048)] = None


class RecordQuery(PageQuery):
    """Query parameters of ``GET /batches/{batch_id}/records``."""

    status: RecordStatus = RecordStatus.PROCESSED


def _query(model: type[PageQuery]) -> Any:
    params = dict(api.current_request.query_params or {})
    try:
        return model.model_validate(params)
    except ValidationError as err:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in err.errors(include_url=False, include_input=False)
        ]
        raise MalformedRequestError("invalid query parameters", details) from err


def _batch_id(value: str) -> str:
    if not re.match(BATCH_ID_PATTERN, value):
        raise BatchNotFoundError(f"no batch has id {value!r}")
    logger.append_keys(batch_id=value)
    return value


@api.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    """Answer that the API is up."""
    return {"status": "ok"}


@api.route("/openapi.json", methods=["GET"])
def openapi() -> dict[str, Any]:
    """Serve the API's OpenAPI document, generated from the pydantic models."""
    return openapi_document()


@api.route(
    "/batches",
    methods=["POST"],
    content_types=ACCEPTED_CONTENT_TYPES,
    authorizer=api_key_authorizer,
    cors=CORS,
)
@api_errors
def post_batch() -> Response:
    """Take a batch in (JSON, CSV or NDJSON) and answer 202 with its id and status URL."""
    request = api.current_request
    headers = {k.lower(): v for k, v in request.headers.items()}
    params = dict(request.query_params or {})
    ctx = get_context()

    def enqueue(message: ExecutionInput) -> None:
        aws.sqs().send_message(
            QueueUrl=ctx.settings.ingest_queue_url, MessageBody=message.model_dump_json()
        )

    accepted = ingest(
        IngestRequest(
            body=raw if isinstance(raw := request.raw_body or b"", bytes) else raw.encode(),
            content_type=headers.get("content-type"),
            dataset=params.get("dataset"),
            idempotency_key=headers.get("idempotency-key"),
        ),
        ctx,
        enqueue,
    )
    return json_response(accepted, status=202, headers={"Location": accepted.status_url})


@api.route("/batches", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def list_batches() -> Response:
    """List batches, newest first."""
    query = _query(PageQuery)
    batches, token = get_context().batches.list(query.limit, query.next)
    return json_response(BatchPage(batches=batches, next=token))


@api.route("/batches/{batch_id}", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_batch(batch_id: str) -> Response:
    """Show a batch: status, counts, per-stage progress, timings, execution and error."""
    return json_response(get_context().batches.get(_batch_id(batch_id)))


@api.route("/batches/{batch_id}/records", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_records(batch_id: str) -> Response:
    """Page through a batch's processed (enriched) or rejected records."""
    ctx = get_context()
    ctx.batches.get(_batch_id(batch_id))
    query = _query(RecordQuery)
    records, token = ctx.records.page(batch_id, query.status, query.limit, query.next)
    return json_response(RecordPage(status=query.status.value, records=records, next=token))


@api.route(
    "/batches/{batch_id}/execution", methods=["GET"], authorizer=api_key_authorizer, cors=CORS
)
@api_errors
def get_execution(batch_id: str) -> Response:
    """Show the batch's execution: the ASL and what happened to each state."""
    batch = get_context().batches.get(_batch_id(batch_id))
    if batch.execution_arn is None:
        raise NotFoundError(f"batch {batch_id!r} has not started an execution yet")
    sfn = aws.stepfunctions()
    view = execution_view(sfn, batch.execution_arn, _definition(batch.execution_arn))
    return json_response(view)


def _definition(execution_arn: str) -> dict[str, Any]:
    state_machine_arn = execution_arn.replace(":execution:", ":stateMachine:", 1).rsplit(":", 1)[0]
    return _state_machine_definition(state_machine_arn)


@functools.cache
def _state_machine_definition(state_machine_arn: str) -> dict[str, Any]:
    # The deployed definition (substitutions resolved) is what ran; it changes only on deploy.
    described = aws.stepfunctions().describe_state_machine(stateMachineArn=state_machine_arn)
    definition: dict[str, Any] = json.loads(described["definition"])
    return definition
