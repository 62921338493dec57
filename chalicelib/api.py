"""The HTTP API (v1): ingest batches (bodies and uploads), read their status, chunks and records.

Views only parse the request, call the core and format the answer; every refused
request becomes a JSON 4xx through ``api_errors``.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import time
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from chalice.app import AuthRequest, AuthResponse, Blueprint, CORSConfig, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.auth import actor, authorize
from chalicelib.dead_letters import (
    DeadLetterQuery,
    DiscardRequest,
    RedriveRequest,
    discard,
    peek,
    redrive,
)
from chalicelib.execution_view import execution_view
from chalicelib.failures import FailureQuery, HandleRequest, handle, inbox
from chalicelib.http_errors import api_errors, json_response
from chalicelib.ingest import IngestRequest, ingest
from chalicelib.lineage import lineage_of
from chalicelib.openapi import openapi_document
from chalicelib.replay import ReplayRequest, replay
from chalicelib.retry import RetryRequest, request_retry
from chalicelib.schemas import (
    AuditPage,
    BatchPage,
    ChunkDetail,
    ChunkListing,
    ChunkPage,
    DatasetInfo,
    DatasetList,
    PartitionPage,
    RecordPage,
    UsageTotal,
)
from chalicelib.uploads import UploadRequest, request_upload
from shared import aws, usage
from shared.context import get_context
from shared.datasets import datasets, get_dataset
from shared.errors import (
    BatchNotFoundError,
    ChunkNotFoundError,
    MalformedRequestError,
    NotFoundError,
    UploadPendingError,
    field_errors,
)
from shared.lambda_runtime import charge
from shared.ledger import ChunkStatus
from shared.models import BATCH_ID_PATTERN, BatchView, ExecutionInput
from shared.observability import logger
from shared.records import RecordStatus

__all__ = ["ACCEPTED_CONTENT_TYPES", "BINARY_BODY_TYPES", "api"]

api = Blueprint(__name__)
BodyT = TypeVar("BodyT", bound=BaseModel)

# Chalice would answer other types with its own 415; we take them all and refuse in one place.
ACCEPTED_CONTENT_TYPES = ["*/*"]
# API Gateway passes these bodies through as bytes (base64 in the event), so a gzip CSV
# or NDJSON body reaches ingestion exactly as sent.
BINARY_BODY_TYPES = ["text/csv", "application/x-ndjson", "application/ndjson", "application/jsonl"]


def _cors() -> CORSConfig | None:
    # Only the configured dashboard origin may call the API from a browser; read at
    # package time, as Chalice writes CORS into the API definition.
    origin = os.environ.get("SLUICE_DASHBOARD_ORIGIN")
    if not origin:
        return None
    return CORSConfig(
        allow_origin=origin,
        allow_headers=["Authorization", "Content-Type", "Content-Encoding", "Idempotency-Key"],
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


class ChunkQuery(PageQuery):
    """Query parameters of ``GET /batches/{batch_id}/chunks``."""

    status: ChunkStatus | None = None


class PartitionQuery(PageQuery):
    """Query parameters of ``GET /datasets/{dataset}/records`` (and the dataset's filters)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    date: datetime.date


def _query(model: type[BodyT]) -> BodyT:
    params = dict(api.current_request.query_params or {})
    try:
        return model.model_validate(params)
    except ValidationError as err:
        raise MalformedRequestError("invalid query parameters", field_errors(err)) from err


def _batch_id(value: str) -> str:
    if not re.match(BATCH_ID_PATTERN, value):
        raise BatchNotFoundError(f"no batch has id {value!r}")
    logger.append_keys(batch_id=value)
    return value


def _batch(batch_id: str) -> BatchView:
    """The batch, or a 404 that says whether its upload is still on its way."""
    ctx = get_context()
    try:
        return ctx.batches.get(_batch_id(batch_id))
    except BatchNotFoundError:
        upload = ctx.uploads.get(batch_id)
        if upload is None:
            raise
        post_expires = upload.issued_at + timedelta(seconds=ctx.settings.upload_expiry_seconds)
        raise UploadPendingError(
            f"batch {batch_id!r} does not exist yet: its upload was issued at "
            f"{upload.issued_at.isoformat()} and its file has not arrived",
            [
                {
                    "upload_id": upload.upload_id,
                    "filename": upload.filename,
                    "size_bytes": upload.size_bytes,
                    "issued_at": upload.issued_at.isoformat(),
                    "upload_expires_at": post_expires.isoformat(),
                }
            ],
        ) from None


def _json_body(model: type[BodyT], what: str = "upload request") -> BodyT:
    request = api.current_request
    try:
        return model.model_validate_json(request.raw_body or b"{}")
    except ValidationError as err:
        raise MalformedRequestError(
            f"the request body is not a valid {what}", field_errors(err)
        ) from err


def _enqueue(message: ExecutionInput) -> None:
    aws.sqs().send_message(
        QueueUrl=get_context().settings.ingest_queue_url, MessageBody=message.model_dump_json()
    )


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
    started = time.perf_counter()
    with usage.counted() as tally:
        accepted = ingest(
            IngestRequest(
                body=raw if isinstance(raw := request.raw_body or b"", bytes) else raw.encode(),
                content_type=headers.get("content-type"),
                content_encoding=headers.get("content-encoding"),
                dataset=params.get("dataset"),
                idempotency_key=headers.get("idempotency-key"),
            ),
            ctx,
            _enqueue,
        )
    _charge_request(accepted.batch_id, tally, started, new=not accepted.duplicate)
    return json_response(accepted, status=202, headers={"Location": accepted.status_url})


@api.route("/uploads", methods=["POST"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def post_upload() -> Response:
    """Declare a file and get a presigned S3 POST for it (201), or its batch if it has arrived."""
    headers = {k.lower(): v for k, v in api.current_request.headers.items()}
    ticket = request_upload(
        _json_body(UploadRequest), headers.get("idempotency-key"), get_context(), aws.s3()
    )
    status = 200 if ticket.duplicate else 201
    return json_response(ticket, status=status, headers={"Location": ticket.status_url})


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
    """Show a batch: status, counts, chunk and stage progress, timings, execution and error."""
    return json_response(_batch(batch_id))


@api.route("/batches/{batch_id}/records", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_records(batch_id: str) -> Response:
    """Page through a batch's processed (enriched, from S3) or rejected records, in line order."""
    ctx = get_context()
    batch = _batch(batch_id)
    query = _query(RecordQuery)
    if query.status is RecordStatus.REJECTED:
        records, token = ctx.rejects.page(batch_id, query.limit, query.next)
    else:
        records, token = ctx.processed_records.batch_page(
            batch_id, batch.dataset, batch.chunks.total or 0, query.limit, query.next
        )
    return json_response(RecordPage(status=query.status.value, records=records, next=token))


@api.route("/batches/{batch_id}/chunks", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_chunks(batch_id: str) -> Response:
    """Page through a batch's chunk ledger, optionally only the chunks of one status."""
    _batch(batch_id)
    query = _query(ChunkQuery)
    chunks, token = get_context().ledger.page(batch_id, query.limit, query.next, query.status)
    return json_response(ChunkPage(chunks=[ChunkListing.of(c) for c in chunks], next=token))


@api.route(
    "/batches/{batch_id}/chunks/{index}", methods=["GET"], authorizer=api_key_authorizer, cors=CORS
)
@api_errors
def get_chunk(batch_id: str, index: str) -> Response:
    """Show one chunk: its ledger entry and, where it ran as a child execution, that execution."""
    batch = _batch(batch_id)
    if not index.isdigit() or int(index) >= (batch.chunks.total or 0):
        raise ChunkNotFoundError(f"batch {batch_id!r} has no chunk {index!r}")
    entry = get_context().ledger.get(batch_id, int(index))
    if entry is None:
        raise ChunkNotFoundError(f"chunk {index} of batch {batch_id!r} has not started yet")
    execution = None
    if entry.execution_arn and entry.execution_arn != batch.execution_arn:
        child = entry.execution_arn
        definition = _definition(batch.execution_arn or child)
        processor = next(
            state["ItemProcessor"]
            for state in definition["States"].values()
            if "ItemProcessor" in state
        )
        execution = execution_view(aws.stepfunctions(), child, processor)
    return json_response(ChunkDetail(chunk=entry, execution=execution))


@api.route("/batches/{batch_id}/retry", methods=["POST"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def post_retry(batch_id: str) -> Response:
    """Run a failed batch again: its failed chunks (all, or the chosen), or from the start."""
    body = _json_body(RetryRequest, "retry request")
    started = time.perf_counter()
    with usage.counted() as tally:
        accepted = request_retry(
            _batch_id(batch_id),
            body.chunks,
            actor(api.current_request.context),
            get_context(),
            _enqueue,
            aws.stepfunctions(),
        )
    _charge_request(accepted.batch_id, tally, started)
    return json_response(accepted, status=202, headers={"Location": accepted.status_url})


def _charge_request(batch_id: str, tally: usage.Tally, started: float, new: bool = False) -> None:
    """Add what this request cost (its calls and the API function's time) to the batch."""
    spent = usage.invocation(api.current_request.lambda_context, time.perf_counter() - started)
    charge(batch_id, tally.usage() + spent, new_batch=new)


@api.route("/batches/{batch_id}/replay", methods=["POST"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def post_replay(batch_id: str) -> Response:
    """Replay edited rejects of a batch as a child batch linked to it (202, or 200 if repeated)."""
    headers = {k.lower(): v for k, v in api.current_request.headers.items()}
    started = time.perf_counter()
    with usage.counted() as tally:
        accepted = replay(
            _batch_id(batch_id),
            _json_body(ReplayRequest, "replay request"),
            headers.get("idempotency-key"),
            actor(api.current_request.context),
            get_context(),
            _enqueue,
        )
    _charge_request(accepted.batch_id, tally, started, new=not accepted.duplicate)
    status = 200 if accepted.duplicate else 202
    return json_response(accepted, status=status, headers={"Location": accepted.status_url})


@api.route(
    "/batches/{batch_id}/records/{line}",
    methods=["GET"],
    authorizer=api_key_authorizer,
    cors=CORS,
)
@api_errors
def get_record_lineage(batch_id: str, line: str) -> Response:
    """Tell the whole story of one source line: in, through every stage, out (or rejected)."""
    batch = _batch(batch_id)
    if not line.isdigit() or int(line) < 1:
        raise NotFoundError(
            f"batch {batch_id!r} has no source line {line!r}", code="record_not_found"
        )
    return json_response(lineage_of(batch, int(line), get_context()))


@api.route("/failures", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_failures() -> Response:
    """The failure inbox: failed batches and chunks, rejects by rule, dead letters; newest first."""
    query = _query(FailureQuery)
    return json_response(inbox(query, get_context(), aws.sqs()))


@api.route("/failures/handle", methods=["POST"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def post_failures_handled() -> Response:
    """Mark inbox items handled with a note (a dead letter handled is discarded)."""
    body = _json_body(HandleRequest, "handle request")
    report = handle(body, actor(api.current_request.context), get_context(), aws.sqs())
    return json_response(report)


class AuditQuery(PageQuery):
    """Query parameters of ``GET /audit``."""

    batch: Annotated[str | None, Field(pattern=BATCH_ID_PATTERN)] = None


@api.route("/audit", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_audit() -> Response:
    """The audit trail, newest first: who retried, replayed, redrove, discarded or handled what."""
    query = _query(AuditQuery)
    audit = get_context().audit
    if query.batch is not None:
        entries, token = audit.for_batch(query.batch, query.limit, query.next)
    else:
        entries, token = audit.recent(query.limit, query.next)
    return json_response(AuditPage(entries=entries, next=token))


@api.route("/usage", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_usage() -> Response:
    """What every batch so far has cost at list prices, from the calls counted for each."""
    cost, batches = get_context().batches.total_cost()
    return json_response(UsageTotal(cost=cost, batches=batches))


@api.route("/datasets", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def list_datasets() -> Response:
    """List the registered datasets: CSV header, record filters and how to show a record."""
    infos = [
        DatasetInfo(
            name=dataset.name,
            csv_columns=list(dataset.csv_columns),
            filters=list(dataset.filters),
            display=dataset.display_or_default(),
        )
        for dataset in datasets()
    ]
    return json_response(DatasetList(datasets=infos))


@api.route("/datasets/{dataset}/records", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def get_dataset_records(dataset: str) -> Response:
    """Page through one date partition of a dataset's processed records, across batches."""
    known = get_dataset(dataset)
    query = _query(PartitionQuery)
    filters = {k: str(v) for k, v in (query.model_extra or {}).items()}
    unknown = sorted(set(filters) - set(known.filters))
    if unknown:
        raise MalformedRequestError(
            f"dataset {dataset!r} cannot be filtered by {unknown}; "
            f"its filters are {list(known.filters)}"
        )
    records, token = get_context().processed_records.partition_page(
        known.name, query.date, filters, query.limit, query.next
    )
    return json_response(
        PartitionPage(
            dataset=known.name, date=query.date, filters=filters, records=records, next=token
        )
    )


@api.route(
    "/batches/{batch_id}/execution", methods=["GET"], authorizer=api_key_authorizer, cors=CORS
)
@api_errors
def get_execution(batch_id: str) -> Response:
    """Show the batch's execution: the ASL, what happened to each state, the Map Run's counts."""
    batch = _batch(batch_id)
    if batch.execution_arn is None:
        raise NotFoundError(f"batch {batch_id!r} has not started an execution yet")
    sfn = aws.stepfunctions()
    try:
        view = execution_view(sfn, batch.execution_arn, _definition(batch.execution_arn), batch)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise NotFoundError(
            f"the execution of batch {batch_id!r} is gone (the local runtime restarted since "
            "it ran); its counts, chunks and records are kept",
            code="execution_gone",
        ) from None
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


# ---- dead letters


@api.route("/dead-letters", methods=["GET"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def list_dead_letters() -> Response:
    """List the dead-letter queues' messages (peeked: they stay), with their batch and reason."""
    query = _query(DeadLetterQuery)
    return json_response(peek(aws.sqs(), get_context().settings, query.queue, query.limit))


@api.route("/dead-letters/redrive", methods=["POST"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def post_dead_letter_redrive() -> Response:
    """Move ingest dead letters back to their queue; retry the batches of pipeline ones."""
    report = redrive(
        _json_body(RedriveRequest, "redrive request"),
        actor(api.current_request.context),
        get_context(),
        aws.sqs(),
        _enqueue,
    )
    return json_response(report)


@api.route("/dead-letters", methods=["DELETE"], authorizer=api_key_authorizer, cors=CORS)
@api_errors
def delete_dead_letters() -> Response:
    """Discard the chosen dead letters (all of them, or none if one is unknown), recorded."""
    report = discard(
        _json_body(DiscardRequest, "discard request"),
        actor(api.current_request.context),
        get_context(),
        aws.sqs(),
    )
    return json_response(report)
