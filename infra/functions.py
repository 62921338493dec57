"""Every Lambda function the app defines, with the IAM permissions it needs and nothing more.

Chalice's generated policy is switched off (``manage_iam_role: false`` in
``.chalice/config.json``): each function gets its own role, built by ``infra/template.py``
from the statements below. Actions are the ones the code calls; resources are the
stack's own tables, buckets (down to the key prefix), queues and state machine.
A function the app defines but this module does not list fails ``make package``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "API_HANDLER",
    "XRAY_MANAGED_POLICY",
    "FUNCTIONS",
    "FunctionSpec",
    "Statement",
    "by_logical_id",
    "function_name",
    "role_statements",
]

Statement = dict[str, Any]
API_HANDLER = "api_handler"  # Chalice's name for the function behind every route

# X-Ray's write actions support no resource-level permissions ("*" is all AWS accepts):
# every role gets them through AWS's own managed policy, written once, not once per role
# (the resources stack must stay under CloudFormation's 51,200 bytes for an inline body).
XRAY_MANAGED_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"}


def _allow(actions: tuple[str, ...], resources: list[Any], sid: str) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def _table(logical_id: str, *indexes: str) -> list[Any]:
    arns: list[Any] = [{"Fn::GetAtt": [logical_id, "Arn"]}]
    arns.extend({"Fn::Sub": f"${{{logical_id}.Arn}}/index/{index}"} for index in indexes)
    return arns


def _objects(bucket: str, prefix: str) -> list[Any]:
    return [{"Fn::Sub": f"${{{bucket}.Arn}}/{prefix}*"}]


def _bucket(bucket: str) -> list[Any]:
    return [{"Fn::GetAtt": [bucket, "Arn"]}]


def _queue(logical_id: str) -> list[Any]:
    return [{"Fn::GetAtt": [logical_id, "Arn"]}]


_STATE_MACHINE: list[Any] = [{"Ref": "PipelineStateMachine"}]
_STATES_ARN = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
_EXECUTIONS: list[Any] = [
    {"Fn::Sub": f"{_STATES_ARN}:execution:${{PipelineStateMachine.Name}}:*"},
    # A Distributed Map's child executions: execution:<machine>/<map run>:<child>.
    {"Fn::Sub": f"{_STATES_ARN}:execution:${{PipelineStateMachine.Name}}/*"},
]
_MAP_RUNS: list[Any] = [{"Fn::Sub": f"{_STATES_ARN}:mapRun:${{PipelineStateMachine.Name}}/*"}]

# GetObject on a missing key answers 403 instead of 404 (NoSuchKey, which the code maps to
# ChunkObjectMissingError) unless the caller may list the bucket.
_LIST_RAW = _allow(("s3:ListBucket",), _bucket("RawBucket"), "MissingObjectsAreNotFound")
_LIST_WORK = _allow(("s3:ListBucket",), _bucket("ProcessedBucket"), "MissingChunksAreNotFound")
# The chunk ledger: a chunk item is read, then put (alone, or in a transaction with an
# update of the batch summary: TransactWriteItems needs the actions of its items).
_LEDGER = _allow(
    ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
    _table("BatchesTable"),
    "ChunkLedger",
)
_READ_BATCH = _allow(
    ("dynamodb:GetItem", "dynamodb:UpdateItem"), _table("BatchesTable"), "BatchItems"
)
# Chunks, manifests and Map Run results: the pipeline's work in progress, in the processed
# bucket (unversioned, no event notifications; the raw bucket keeps only what came in).
_CHUNKS_READ_WRITE = _allow(
    ("s3:GetObject", "s3:PutObject"), _objects("ProcessedBucket", "chunks/"), "Chunks"
)


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: how Chalice names it and what it may do."""

    logical_id: str
    """Chalice's CloudFormation logical id (``APIHandler``, ``Split``, ...)."""
    chalice_name: str
    """The name Chalice knows the function by (``lambda_functions`` in its config)."""
    statements: tuple[Statement, ...]
    event_queue: str | None = None
    """Logical id of the queue an SQS event source reads, if the function has one."""

    @property
    def deployed_name(self) -> str:
        """The function's name as Chalice deploys it, as an ``Fn::Sub`` string."""
        if self.chalice_name == API_HANDLER:
            return "${ApiFunctionName}"  # Chalice names it <app>-<stage>, without a suffix
        return f"${{FunctionNamePrefix}}{self.chalice_name}"

    @property
    def role_id(self) -> str:
        """Logical id of the function's role in the template."""
        return f"{self.logical_id}Role"


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        logical_id="APIHandler",
        chalice_name=API_HANDLER,
        statements=(
            _allow(("s3:PutObject",), _objects("RawBucket", "raw/"), "RawBodies"),
            # A presigned POST is signed with this role: it may put (only) upload objects.
            _allow(("s3:PutObject",), _objects("RawBucket", "uploads/"), "SignUploads"),
            _allow(
                # UpdateItem: a retry claims its run on the batch item.
                ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"),
                _table("BatchesTable", "by-received"),
                "Batches",
            ),
            # GetItem and UpdateItem: a record's lineage reads its reject; a replay marks it.
            _allow(
                ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"),
                _table("RecordsTable"),
                "Rejects",
            ),
            _allow(
                ("s3:GetObject",), _objects("ProcessedBucket", "processed/"), "ProcessedRecords"
            ),
            # A record's lineage shows its values as received, from its chunk's raw object.
            _allow(("s3:GetObject",), _objects("ProcessedBucket", "chunks/"), "ChunkRows"),
            _allow(("s3:ListBucket",), _bucket("ProcessedBucket"), "DatePartitions"),
            # SendMessage: a batch to start, a retry, or (locally, one by one) a redriven ingest
            # dead letter. GetQueueAttributes: its ARN and redrive policy (DLQ, maxReceiveCount).
            _allow(("sqs:SendMessage", "sqs:GetQueueAttributes"), _queue("IngestQueue"), "Enqueue"),
            # The dead-letter routes: list (receive, then visible again at once), redrive, discard.
            _allow(
                (
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                ),
                _queue("IngestDeadLetterQueue") + _queue("PipelineDeadLetterQueue"),
                "DeadLetters",
            ),
            # On AWS the whole ingest DLQ goes back to its queue as one message move task (the
            # pipeline DLQ has no source queue: its messages are retried batches).
            _allow(
                ("sqs:ListMessageMoveTasks", "sqs:StartMessageMoveTask"),
                _queue("IngestDeadLetterQueue"),
                "MoveTask",
            ),
            _allow(("states:DescribeStateMachine",), _STATE_MACHINE, "Definition"),
            _allow(
                ("states:DescribeExecution", "states:GetExecutionHistory"),
                _EXECUTIONS,
                "Executions",
            ),
            _allow(("states:DescribeMapRun",), _MAP_RUNS, "MapRuns"),
        ),
    ),
    FunctionSpec(
        logical_id="ApiKeyAuthorizer",
        chalice_name="api_key_authorizer",
        statements=(_allow(("dynamodb:GetItem",), _table("ApiKeysTable"), "ApiKeys"),),
    ),
    FunctionSpec(
        logical_id="StartBatches",
        chalice_name="start_batches",
        event_queue="IngestQueue",
        statements=(
            _allow(
                # What Lambda's event source mapping does with the function's role.
                ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
                _queue("IngestQueue"),
                "EventSource",
            ),
            _allow(
                ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
                _table("BatchesTable"),
                "BatchItems",
            ),
            # HeadObject of an arrived upload (its size, type and version).
            _allow(("s3:GetObject",), _objects("RawBucket", "uploads/"), "Uploads"),
            _allow(("states:StartExecution",), _STATE_MACHINE, "Start"),
            # A retry of an execution that stopped (timed out, aborted) resumes it on AWS.
            _allow(("states:RedriveExecution",), _EXECUTIONS[:1], "Redrive"),
        ),
    ),
    FunctionSpec(
        logical_id="Split",
        chalice_name="split",
        statements=(
            # A retry takes failed chunks up again in the ledger (read page by page).
            _allow(
                ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"),
                _table("BatchesTable"),
                "BatchAndLedger",
            ),
            _allow(
                ("s3:GetObject",),
                _objects("RawBucket", "raw/") + _objects("RawBucket", "uploads/"),
                "RawObjects",
            ),
            _allow(
                # GetObject: a retry checks for expired chunk objects and reads the manifest.
                ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"),
                _objects("ProcessedBucket", "chunks/"),
                "Chunks",
            ),
            _LIST_RAW,
            _LIST_WORK,
        ),
    ),
    *(
        FunctionSpec(
            logical_id=logical_id,
            chalice_name=chalice_name,
            statements=(_CHUNKS_READ_WRITE, _LIST_WORK, _LEDGER),
        )
        for logical_id, chalice_name in (
            ("Validate", "validate"),
            ("Transform", "transform"),
            ("Enrich", "enrich"),
        )
    ),
    FunctionSpec(
        logical_id="Store",
        chalice_name="store",
        statements=(
            _allow(("s3:GetObject",), _objects("ProcessedBucket", "chunks/"), "Chunks"),
            _LIST_WORK,
            _allow(
                ("s3:PutObject",), _objects("ProcessedBucket", "processed/"), "ProcessedRecords"
            ),
            _allow(("dynamodb:BatchWriteItem",), _table("RecordsTable"), "Rejects"),
            _LEDGER,
        ),
    ),
    FunctionSpec(
        logical_id="RecordChunkFailure",
        chalice_name="record_chunk_failure",
        statements=(
            _LEDGER,
            # Withdraw what a failed chunk wrote, so none of its records is also stored.
            _allow(("s3:DeleteObject",), _objects("ProcessedBucket", "processed/"), "Withdraw"),
            _allow(
                ("dynamodb:Query", "dynamodb:BatchWriteItem"),
                _table("RecordsTable"),
                "WithdrawRejects",
            ),
        ),
    ),
    FunctionSpec(
        logical_id="Finalize",
        chalice_name="finalize",
        statements=(
            _allow(
                ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"),
                _table("BatchesTable"),
                "BatchItems",
            ),
        ),
    ),
    FunctionSpec(logical_id="MarkFailed", chalice_name="mark_failed", statements=(_READ_BATCH,)),
)


def function_name(spec: FunctionSpec) -> dict[str, str]:
    """Return the function's name as Chalice gives it (``<app>-<stage>-<name>``)."""
    return {"Fn::Sub": spec.deployed_name}


def by_logical_id() -> dict[str, FunctionSpec]:
    """Return the specs keyed by Chalice's logical id."""
    return {spec.logical_id: spec for spec in FUNCTIONS}


def role_statements(spec: FunctionSpec) -> list[Statement]:
    """Return the function's own policy: its statements and its logs (traces: the managed one)."""
    log_group = (
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
        f":log-group:/aws/lambda/{spec.deployed_name}:*"
    )
    return [
        *spec.statements,
        _allow(("logs:CreateLogStream", "logs:PutLogEvents"), [{"Fn::Sub": log_group}], "Logs"),
    ]
