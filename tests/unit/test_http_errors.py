"""The API layer's one table of HTTP statuses, over the domain's errors."""

from __future__ import annotations

import inspect

import pytest

from chalicelib.http_errors import STATUS, error_response, status_of
from shared import errors
from shared.errors import (
    BatchNotFoundError,
    ConflictError,
    RequestError,
    UnknownDatasetError,
    UploadPendingError,
)

REQUEST_ERRORS = [
    cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, RequestError)
]


@pytest.mark.parametrize("cls", REQUEST_ERRORS, ids=lambda c: c.__name__)
def test_every_refusal_answers_a_4xx(cls: type[RequestError]):
    assert 400 <= status_of(cls("no")) < 500


def test_the_domain_errors_know_nothing_of_http():
    for cls in REQUEST_ERRORS:
        assert not hasattr(cls, "status"), cls.__name__


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (BatchNotFoundError("gone"), 404, "batch_not_found"),
        (UploadPendingError("later"), 404, "upload_pending"),
        (ConflictError("busy", code="batch_running"), 409, "batch_running"),
        (UnknownDatasetError("what"), 422, "unknown_dataset"),
    ],
)
def test_a_subclass_takes_its_nearest_listed_status(error: RequestError, status: int, code: str):
    response = error_response(error)
    assert response.status_code == status
    assert response.body == {"code": code, "message": error.message, "details": []}


def test_the_table_lists_only_request_errors():
    assert all(issubclass(cls, RequestError) for cls in STATUS)
