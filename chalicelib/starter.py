"""Starting executions from the ingest queue: one Standard execution per batch, named after it.

Step Functions refuses a second execution of the same name, so a redelivered message
starts nothing new; the batch item only moves from ``RECEIVED`` to ``RUNNING`` once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from shared import aws
from shared.clock import utc_now
from shared.context import PipelineContext, get_context
from shared.models import ExecutionInput
from shared.observability import logger, observe_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_stepfunctions import SFNClient

__all__ = ["execution_arn_for", "handle_ingest_messages", "start_batch"]


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """Return the ARN an execution of ``name`` has (Standard workflows)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start_batch(request: ExecutionInput, ctx: PipelineContext, sfn: SFNClient) -> str:
    """Start the batch's execution (or find the one already started) and mark it running.

    Raises:
        BatchNotFoundError: no batch has this id (the message is retried, then dead-lettered).
    """
    batch = ctx.batches.get(request.batch_id)
    state_machine_arn = ctx.settings.state_machine_arn
    try:
        arn = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=batch.batch_id,
            input=request.model_dump_json(),
        )["executionArn"]
        logger.info("execution started", extra={"execution": arn})
    except sfn.exceptions.ExecutionAlreadyExists:
        arn = execution_arn_for(state_machine_arn, batch.batch_id)
        logger.info("execution already exists", extra={"execution": arn})
    ctx.batches.mark_running(batch.batch_id, arn, utc_now())
    return arn


def _start_from_record(record: SQSRecord) -> str:
    request = ExecutionInput.model_validate_json(record.body)
    logger.append_keys(batch_id=request.batch_id)
    with aws.translate_transient_errors():
        return start_batch(request, get_context(), aws.stepfunctions())


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
    with observe_invocation("start_batches") as invocation:
        response = process_partial_response(
            event=event, record_handler=_start_from_record, processor=processor, context=context
        )
        failed = len(response.get("batchItemFailures", []))
        received = len(event.get("Records", []))
        invocation.extra_metrics.update(
            MessagesReceived=received, BatchesStarted=received - failed, MessagesFailed=failed
        )
    return dict(response)
