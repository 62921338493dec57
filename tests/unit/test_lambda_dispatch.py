"""The local Lambda dispatcher reports failures exactly as Lambda does, by exception class name."""

from __future__ import annotations

import json
from typing import Any

from devserver.lambda_dispatch import invoke_handler
from shared.errors import StorageUnavailableError


def test_a_handler_answer_is_returned_as_json():
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"seen": event["n"], "function": context.function_name}

    answer, failed = invoke_handler(handler, "sluice-dev-validate", b'{"n": 3}')

    assert not failed
    assert json.loads(answer) == {"seen": 3, "function": "sluice-dev-validate"}


def test_an_exception_becomes_lambdas_error_document_named_after_its_class():
    def handler(event: Any, context: Any) -> None:
        raise StorageUnavailableError("throttled")

    answer, failed = invoke_handler(handler, "sluice-dev-store", b"{}")

    document = json.loads(answer)
    assert failed
    assert (document["errorType"], document["errorMessage"]) == (
        "StorageUnavailableError",
        "throttled",
    )
