"""Starting executions from the ingest queue: one Standard execution per batch, named after it.

Two kinds of message arrive on the queue. ``POST /batches`` sends ``{"batch_id": ...}``
once it has stored the batch; S3 sends (through EventBridge and a rule) an ``Object
Created`` event when an upload's object lands under ``uploads/``. For an upload, the
batch is created here, from the upload item the API wrote when it signed the upload:

* an object whose upload was never issued (no upload item, or another upload id) is
  ignored with a warning: there is no declared dataset to make a batch of, and only a
  holder of the bucket's own credentials could have written it;
* an object that is not what was declared (another size or content type) becomes a
  ``FAILED`` batch whose error says what differs (``UploadMismatchError``), and starts
  nothing;
* a duplicate event (S3 and EventBridge deliver at least once) finds the batch made
  already and starts nothing new: Step Functions refuses a second execution of the
  same name, and the batch item only moves from ``RECEIVED`` to ``RUNNING`` once.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import ValidationError

from shared import aws, usage
from shared.batches import NewBatch, execution_name
from shared.clock import utc_now
from shared.context import PipelineContext, get_context
from shared.errors import InvalidStatePayloadError, UploadMismatchError
from shared.lambda_runtime import charge
from shared.models import BatchSource, BatchStatus, ErrorInfo, ExecutionInput
from shared.observability import logger, observe_invocation
from shared.pricing import Usage
from shared.uploads import parse_upload_key

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

    from shared.uploads import Upload

__all__ = [
    "execution_arn_for",
    "handle_ingest_messages",
    "parse_message",
    "receive_upload",
    "start_batch",
]


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """Return the ARN an execution of ``name`` has (Standard workflows)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def parse_message(body: str) -> ExecutionInput | S3EventNotificationEventBridgeModel:
    """Read an ingest-queue message: a batch to start, or an S3 ``Object Created`` event.

    Raises:
        InvalidStatePayloadError: the message is neither.
    """
    try:
        data = json.loads(body)
    except ValueError as err:
        raise InvalidStatePayloadError("the ingest message is not JSON") from err
    try:
        if isinstance(data, dict) and data.get("source") == "aws.s3":
            return S3EventNotificationEventBridgeModel.model_validate(data)
        return ExecutionInput.model_validate(data)
    except ValidationError as err:
        raise InvalidStatePayloadError(
            f"the ingest message is not one the starter reads: {err}"
        ) from err


def start_batch(request: ExecutionInput, ctx: PipelineContext, sfn: SFNClient) -> str | None:
    """Start the batch's execution (or find the one already started) and mark it running.

    A batch that ended before it ever started (an upload that failed its checks) starts
    nothing; None is returned then.

    Raises:
        BatchNotFoundError: no batch has this id (the message is retried, then dead-lettered).
    """
    batch = ctx.batches.get(request.batch_id)
    if batch.status is BatchStatus.FAILED and batch.execution_arn is None:
        logger.info("batch failed before it started; nothing to run")
        return None
    state_machine_arn = ctx.settings.state_machine_arn
    name = execution_name(batch.batch_id, request.run)
    run = batch.runs[request.run] if 0 < request.run < len(batch.runs) else None
    if run is not None and run.redrive and run.execution_arn is not None:
        return _redrive(run.execution_arn, sfn)
    try:
        arn = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=request.model_dump_json(),
        )["executionArn"]
        logger.info("execution started", extra={"execution": arn, "run": request.run})
    except sfn.exceptions.ExecutionAlreadyExists:
        arn = execution_arn_for(state_machine_arn, name)
        logger.info("execution already exists", extra={"execution": arn})
    ctx.batches.mark_running(batch.batch_id, arn, utc_now())
    return arn


def _redrive(execution_arn: str, sfn: SFNClient) -> str:
    """Resume a stopped execution where it stopped (AWS only: see ``chalicelib/retry.py``)."""
    try:
        sfn.redrive_execution(executionArn=execution_arn)
        logger.info("execution redriven", extra={"execution": execution_arn})
    except sfn.exceptions.ExecutionNotRedrivable:
        # A duplicate message: the first one redrove it already (or it is running again).
        logger.info("execution not redrivable (again)", extra={"execution": execution_arn})
    return execution_arn


def receive_upload(
    event: S3EventNotificationEventBridgeModel, ctx: PipelineContext, s3: S3Client
) -> ExecutionInput | None:
    """Make the batch an arrived upload declared; return it to start (None: nothing to start)."""
    bucket, key = event.detail.bucket.name, unquote_plus(event.detail.object.key)
    if bucket != ctx.raw.bucket:
        logger.warning("object event for another bucket ignored", extra={"bucket": bucket})
        return None
    parsed = parse_upload_key(key)
    upload = ctx.uploads.get(parsed.batch_id) if parsed is not None else None
    if parsed is None or upload is None or upload.upload_id != parsed.upload_id:
        logger.warning(
            "object under uploads/ that no upload was issued for: ignored", extra={"key": key}
        )
        return None
    logger.append_keys(batch_id=upload.batch_id)
    if ctx.batches.exists(upload.batch_id):
        logger.info("duplicate object event: the batch exists already", extra={"key": key})
        return ExecutionInput(batch_id=upload.batch_id)
    head = s3.head_object(Bucket=bucket, Key=key)
    version = event.detail.object.version_id or head.get("VersionId")
    batch = NewBatch(
        batch_id=upload.batch_id,
        dataset=upload.dataset,
        content_type=upload.content_type,
        content_encoding=upload.content_encoding,
        source=BatchSource.UPLOAD,
        raw_key=key,
        raw_version=None if version in {None, "null"} else version,
        filename=upload.filename,
        size_bytes=head["ContentLength"],
        payload_sha256=f"upload:{upload.upload_id}:{head.get('ETag', '').strip(chr(34))}",
        records_received=0,
        received_at=utc_now(),
        idempotency_key=upload.idempotency_key,
    )
    mismatch = _mismatch(upload, head["ContentLength"], head.get("ContentType", ""))
    failed = None
    if mismatch is not None:
        logger.warning("upload is not what it declared", extra={"error": str(mismatch)})
        failed = ErrorInfo(
            type=type(mismatch).__name__, message=mismatch.message, code=mismatch.code
        )
    if not ctx.batches.create(batch, failed=failed):
        logger.info("the batch was made by a concurrent event")
    logger.info("upload received", extra={"key": key, "bytes": head["ContentLength"]})
    return ExecutionInput(batch_id=upload.batch_id) if failed is None else None


def _mismatch(upload: Upload, size: int, content_type: str) -> UploadMismatchError | None:
    if size != upload.size_bytes:
        return UploadMismatchError(
            "size_mismatch",
            f"the upload declared {upload.size_bytes} bytes but the object has {size}",
        )
    if content_type.split(";", 1)[0].strip().lower() != upload.content_type:
        return UploadMismatchError(
            "content_type_mismatch",
            f"the upload declared {upload.content_type} "
            f"but the object is {content_type or 'untyped'}",
        )
    return None


def _start_from_record(record: SQSRecord) -> tuple[str | None, bool]:
    """Start the batch a message names; return its id and whether its batch was made now."""
    message = parse_message(record.body)
    ctx = get_context()
    with aws.translate_transient_errors():
        made = False
        if isinstance(message, S3EventNotificationEventBridgeModel):
            existed = _named_batch_exists(message, ctx)
            request = receive_upload(message, ctx, aws.s3())
            if request is None:
                return None, False
            made = not existed
        else:
            request = message
        logger.append_keys(batch_id=request.batch_id)
        start_batch(request, ctx, aws.stepfunctions())
        return request.batch_id, made


def _named_batch_exists(event: S3EventNotificationEventBridgeModel, ctx: PipelineContext) -> bool:
    parsed = parse_upload_key(unquote_plus(event.detail.object.key))
    return parsed is not None and ctx.batches.exists(parsed.batch_id)


def handle_ingest_messages(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Start a batch per SQS message; report the failed messages for redelivery.

    The answer is Lambda's partial batch response (``batchItemFailures``): the event
    source mapping must have ``ReportBatchItemFailures`` on, or a failed message would
    count as processed (``infra/package.py`` sets it and a deploy test checks it).
    """
    logger.clear_state()
    if context is not None:
        logger.set_correlation_id(getattr(context, "aws_request_id", None))
    processor = BatchProcessor(event_type=EventType.SQS)
    share = 1 / max(len(event.get("Records", [])), 1)

    def start_and_charge(record: SQSRecord) -> None:
        started = time.perf_counter()
        with usage.counted() as tally:
            try:
                batch_id, made = _start_from_record(record)
            finally:
                spent = usage.invocation(context, time.perf_counter() - started, share)
        if batch_id is not None:
            # An upload's file reached S3 in one POST, which the client sent.
            sent = Usage(s3_put_requests=1) if made else Usage()
            charge(batch_id, tally.usage() + spent + sent, new_batch=made)

    with observe_invocation("start_batches") as invocation:
        response = process_partial_response(
            event=event, record_handler=start_and_charge, processor=processor, context=context
        )
        failed = len(response.get("batchItemFailures", []))
        received = len(event.get("Records", []))
        invocation.extra_metrics.update(
            MessagesReceived=received, BatchesStarted=received - failed, MessagesFailed=failed
        )
    return dict(response)
