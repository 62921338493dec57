"""The one shape of every stage handler: parse the payload, log with context, run, dump.

Keeping it in one function means every stage validates its input the same way, logs
the batch id and execution on every line, and turns AWS throttling into the error the
state machine retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.aws import translate_transient_errors
from shared.errors import InvalidStatePayloadError
from shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["run_stage"]

InputT = TypeVar("InputT", bound=BaseModel)


def run_stage(
    stage: str,
    event: Any,
    context: LambdaContext | None,
    model: type[InputT],
    work: Callable[[InputT], BaseModel],
) -> dict[str, Any]:
    """Parse ``event`` as ``model``, run ``work`` on it and return its result as JSON data.

    Raises:
        InvalidStatePayloadError: the event does not match ``model``.
        StorageUnavailableError: AWS throttled or failed transiently.
    """
    logger.clear_state()
    if context is not None:
        logger.set_correlation_id(getattr(context, "aws_request_id", None))
    try:
        payload = model.model_validate(event)
    except ValidationError as err:
        logger.error("stage input does not match its model", extra={"stage": stage})
        raise InvalidStatePayloadError(f"{stage} received an invalid payload: {err}") from err
    logger.append_keys(
        stage=stage,
        batch_id=getattr(payload, "batch_id", None),
        execution=getattr(payload, "execution_arn", None),
    )
    logger.info("stage started")
    with translate_transient_errors():
        result = work(payload)
    logger.info("stage finished")
    return result.model_dump(mode="json")
