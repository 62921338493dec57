"""Run the project's real Lambda handlers when moto's Step Functions invokes a function.

moto's Docker-free Lambda backend only echoes its input. Replacing its ``invoke`` (the
same seam moto's own tests use) with a dispatcher that calls our handler makes the
state machine run the real code; an exception becomes Lambda's ``Unhandled`` error
document, so ``Retry``/``Catch`` match on the exception's class name exactly as on AWS.
The handler runs in this process (the functional tests, over ``mock_aws``) or in a pool
of worker processes (the local runtime: ``devserver/workers.py``).
"""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from devserver.pricing import function_memory_mb
from devserver.provision import FUNCTION_PREFIX
from shared.faults import lambda_fault
from shared.observability import logger

__all__ = [
    "Handler",
    "Invoker",
    "LocalLambdaContext",
    "in_process",
    "install",
    "invoke_handler",
    "not_found",
    "uninstall",
]

Handler = Callable[[Any, Any], Any]
Invoker = Callable[[str, bytes | str | None], tuple[bytes, bool]]
"""Runs the named function with a JSON body: its JSON answer, and whether it is an error."""

_ORIGINAL_INVOKE = LambdaSimpleBackend.invoke


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object our handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN in moto's default account."""
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's deadline; locally there is none worth enforcing."""
        return 900_000


def invoke_handler(
    handler: Handler, function_name: str, body: bytes | str | None
) -> tuple[bytes, bool]:
    """Call a handler with a JSON body; return the JSON answer and whether it is an error."""
    event = json.loads(body) if body else {}
    fault = lambda_fault(function_name.removeprefix(FUNCTION_PREFIX))
    if fault == "error":
        return _lambda_error("Lambda.ServiceException", "injected fault: the service failed")
    if fault == "throttle":
        return _lambda_error("Lambda.TooManyRequestsException", "injected fault: throttled")
    try:
        context = LocalLambdaContext(
            function_name=function_name, memory_limit_in_mb=function_memory_mb(function_name)
        )
        result = handler(event, context)
        if fault == "timeout":
            # The work is done, the answer lost: what a timed-out invocation leaves behind.
            return _lambda_error("Sandbox.Timedout", "injected fault: the task timed out")
    except Exception as err:  # noqa: BLE001 - every failure must reach the state machine as Lambda reports it
        logger.warning(
            "local lambda failed",
            extra={
                "function": function_name,
                "error": type(err).__name__,
                "error_message": str(err),
            },
        )
        document = {
            "errorType": type(err).__name__,
            "errorMessage": str(err),
            "stackTrace": traceback.format_exception(err)[-5:],
        }
        return json.dumps(document).encode(), True
    return json.dumps(result).encode(), False


def _lambda_error(error_type: str, message: str) -> tuple[bytes, bool]:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode(), True


def not_found(name: str) -> tuple[bytes, bool]:
    """Lambda's answer for a function that does not exist."""
    document = {"errorType": "ResourceNotFoundException", "errorMessage": name}
    return json.dumps(document).encode(), True


def in_process(handlers: Mapping[str, Handler]) -> Invoker:
    """An invoker that calls the handlers in this process, on the caller's thread."""

    def invoke(name: str, body: bytes | str | None) -> tuple[bytes, bool]:
        handler = handlers.get(name)
        return not_found(name) if handler is None else invoke_handler(handler, name, body)

    return invoke


def install(target: Mapping[str, Handler] | Invoker) -> None:
    """Route moto's invocations (by function name, any ARN prefix dropped) to handlers.

    ``target`` is the handlers by name (run in this process) or an invoker (a worker pool).
    """
    invoker = in_process(target) if isinstance(target, Mapping) else target

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        answer, failed = invoker(function_name.rsplit(":", 1)[-1], body)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return answer

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own echoing ``invoke``."""
    LambdaSimpleBackend.invoke = _ORIGINAL_INVOKE  # type: ignore[method-assign]
