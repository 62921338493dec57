"""The one place where errors become HTTP answers.

Every refused request gets a JSON body ``{"code", "message", "details"}`` and a 4xx
status taken from the error class; nothing else a view raises leaks to the client
(Chalice answers an unexpected exception with a bare 500 and logs it).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ParamSpec

from chalice.app import Response

from shared.errors import ApiRequestError
from shared.models import ErrorBody
from shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

__all__ = ["api_errors", "error_response", "json_response"]

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


def error_response(error: ApiRequestError) -> Response:
    """Answer a refused request with its status and an ``ErrorBody``."""
    body = ErrorBody(code=error.code, message=error.message, details=error.details)
    return json_response(body, status=error.status)


def api_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """Turn the ``ApiRequestError`` a view raises into its JSON error answer."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except ApiRequestError as err:
            logger.info("request refused", extra={"status": err.status, "code": err.code})
            return error_response(err)

    return wrapper
