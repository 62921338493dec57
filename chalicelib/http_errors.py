"""The one place where errors become HTTP answers.

Every refused request gets a JSON body ``{"code", "message", "details"}`` and the 4xx
status ``STATUS`` gives its error class (the nearest class listed, by inheritance); nothing
else a view raises leaks to the client (Chalice answers an unexpected exception with a
bare 500 and logs it). The errors themselves (``shared/errors.py``) know nothing of HTTP.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ParamSpec

from chalice.app import Response

from chalicelib.schemas import ErrorBody
from shared.errors import (
    ConflictError,
    IdempotencyConflictError,
    MalformedRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RequestError,
    UnknownDatasetError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)
from shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

__all__ = ["STATUS", "api_errors", "error_response", "json_response", "status_of"]

STATUS: dict[type[RequestError], int] = {
    RequestError: 400,
    MalformedRequestError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    IdempotencyConflictError: 409,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    UnprocessableError: 422,
    UnknownDatasetError: 422,
}

P = ParamSpec("P")


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Answer with a model as JSON."""
    return Response(
        body=model.model_dump(mode="json"),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def status_of(error: RequestError) -> int:
    """The HTTP status of a refusal: that of the nearest of its classes ``STATUS`` lists."""
    return next(STATUS[cls] for cls in type(error).__mro__ if cls in STATUS)


def error_response(error: RequestError) -> Response:
    """Answer a refused request with its status and an ``ErrorBody``."""
    body = ErrorBody(code=error.code, message=error.message, details=error.details)
    return json_response(body, status=status_of(error))


def api_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """Turn the ``RequestError`` a view raises into its JSON error answer."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except RequestError as err:
            logger.info("request refused", extra={"status": status_of(err), "code": err.code})
            return error_response(err)

    return wrapper
