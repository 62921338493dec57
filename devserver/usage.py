"""What the local runtime's AWS was asked to do, counted the way AWS bills it.

Every request that reaches moto is counted by service and operation, whichever process
sent it (``MeteredMotoServer``, a WSGI wrapper of moto's server): the API and the poller
in this process, the handlers in the worker processes, and moto's own Step Functions
interpreter, whose Task states call Lambda, SNS and SQS through the same endpoint.
Besides the requests, what a bill needs:

- Step Functions: one state transition per state entered, the Map's children included
  (moto's interpreter, ``count_transitions``);
- Lambda: each invocation and how long its handler ran (the dispatcher's
  invoker, ``metered``), priced at the function's configured memory;
- DynamoDB: write and read request units from the sizes of the items (their JSON in the
  request, and in the answer for reads; an estimate a little above DynamoDB's own
  measure), twice for a transaction (``shared/usage.py``: one rule for this meter and
  for each batch's own count);
- S3: the bytes written.

``GET /_sluice/usage`` on the local AWS endpoint answers the totals so far with their
cost at list prices (``devserver/pricing.py``); the difference of two readings is what
the work between them cost. Nothing here runs on AWS, and it changes no answer.
"""

from __future__ import annotations

import functools
import io
import json
import re
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from shared.usage import DYNAMODB_READS, DYNAMODB_WRITES, is_consistent, read_units, write_units

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from devserver.lambda_dispatch import Invoker

__all__ = [
    "METER",
    "USAGE_PATH",
    "Meter",
    "MeteredMotoServer",
    "count_transitions",
    "metered",
]

USAGE_PATH = "/_sluice/usage"
_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_QUERY_CREDENTIAL = re.compile(r"X-Amz-Credential=[^&]*?%2F([a-z0-9-]+)%2Faws4_request")
_FORM_BODY_LIMIT = 64 * 1024


class Meter:
    """Thread-safe running totals of what AWS would bill."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._invocations: Counter[str] = Counter()
        self._invocation_seconds: dict[str, float] = {}
        self._transitions = 0
        self._write_units = 0.0
        self._read_units = 0.0
        self._s3_bytes_written = 0

    def request(self, service: str, operation: str) -> None:
        """Count one request to ``service``."""
        with self._lock:
            self._requests[f"{service}:{operation}"] += 1

    def invocation(self, function: str, seconds: float) -> None:
        """Count how long one invocation of ``function`` ran (its request is counted apart)."""
        with self._lock:
            self._invocations[function] += 1
            self._invocation_seconds[function] = (
                self._invocation_seconds.get(function, 0.0) + seconds
            )

    def transition(self) -> None:
        """Count one Step Functions state transition."""
        with self._lock:
            self._transitions += 1

    def dynamodb_units(self, write: float = 0.0, read: float = 0.0) -> None:
        """Add DynamoDB request units."""
        with self._lock:
            self._write_units += write
            self._read_units += read

    def s3_written(self, size: int) -> None:
        """Add bytes written to S3."""
        with self._lock:
            self._s3_bytes_written += size

    def snapshot(self) -> dict[str, Any]:
        """The totals so far, as JSON-ready values."""
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "lambda": {
                    name: {
                        "invocations": count,
                        "seconds": round(self._invocation_seconds[name], 3),
                    }
                    for name, count in sorted(self._invocations.items())
                },
                "state_transitions": self._transitions,
                "dynamodb_write_units": round(self._write_units, 1),
                "dynamodb_read_units": round(self._read_units, 1),
                "s3_bytes_written": self._s3_bytes_written,
            }


METER = Meter()
"""The runtime's one meter."""


def count_transitions(meter: Meter = METER) -> None:
    """Count every state moto's interpreter enters (its Map's children's states too)."""
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    original = CommonStateField._eval_body
    if getattr(original, "_sluice_metered", False):
        return

    @functools.wraps(original)
    def eval_body(self: CommonStateField, env: Any) -> None:
        meter.transition()
        original(self, env)

    eval_body._sluice_metered = True  # type: ignore[attr-defined]
    CommonStateField._eval_body = eval_body  # type: ignore[method-assign]


class MeteredMotoServer(ThreadedMotoServer):
    """moto's threaded server, with every request counted and the totals on ``USAGE_PATH``."""

    def __init__(self, meter: Meter = METER, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._meter = meter
        self._prices: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def answer_costs_with(self, price: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Price the usage ``USAGE_PATH`` answers with ``price`` (a usage in, a cost out)."""
        self._prices = price

    def _server_entry(self) -> None:
        # What ThreadedMotoServer._server_entry does, with moto's app wrapped.
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address,
            self._port,
            self._metered(app),
            True,
            request_handler=MotoRequestHandler,
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    def _metered(self, app: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
        meter = self._meter

        def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == USAGE_PATH:
                return self._usage(start_response)
            if environ.get("PATH_INFO", "").startswith("/moto-api"):
                return app(environ, start_response)  # type: ignore[no-any-return]
            service, operation, body = _classify(environ)
            meter.request(service, operation)
            if service == "s3" and operation in {"PutObject", "PostObject", "UploadPart"}:
                meter.s3_written(int(environ.get("CONTENT_LENGTH") or 0))
            if service == "dynamodb" and operation in DYNAMODB_WRITES:
                meter.dynamodb_units(write=write_units(operation, body))
            answer = app(environ, start_response)
            if service == "dynamodb" and operation in DYNAMODB_READS:
                return _read_units_of(answer, body, meter)
            return answer  # type: ignore[no-any-return]

        return wsgi

    def _usage(self, start_response: Any) -> list[bytes]:
        usage = self._meter.snapshot()
        document = {"usage": usage, "cost": self._prices(usage) if self._prices else None}
        body = json.dumps(document).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def _classify(environ: dict[str, Any]) -> tuple[str, str, bytes]:
    """The service and operation of a request, and its body when the operation needs it."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    found = _CREDENTIAL.search(authorization) or _QUERY_CREDENTIAL.search(
        environ.get("QUERY_STRING", "")
    )
    # A presigned POST (a browser's or the CLI's upload) carries its signature in the form.
    service = found.group(1) if found else "s3"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    body = b""
    if target:
        operation = target.rsplit(".", 1)[-1]
        if service == "dynamodb":
            body = _read_body(environ)
        return service, operation, body
    if service == "s3":
        return service, _s3_operation(environ), body
    if service == "lambda":
        path = environ.get("PATH_INFO", "")
        return service, "Invoke" if path.endswith("/invocations") else "Other", body
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" not in query and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        query = parse_qs(_read_body(environ).decode("utf-8", "replace"))
    return service, (query.get("Action") or ["Unknown"])[0], body


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read a small request body and put it back for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length <= 0 or length > _FORM_BODY_LIMIT:
        return b""
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _s3_operation(environ: dict[str, Any]) -> str:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/").strip("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    has_key = "/" in path
    if method == "POST":
        if "delete" in query:
            return "DeleteObjects"
        if environ.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
            return "PostObject"
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "PUT":
        if not has_key:
            return "PutBucketConfiguration"
        return "UploadPart" if "uploadId" in query else "PutObject"
    if method == "DELETE":
        return "DeleteObject"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    return "GetObject" if has_key else "ListObjects"


def _read_units_of(answer: Iterable[bytes], body: bytes, meter: Meter) -> list[bytes]:
    """Read the answer (a page of at most 1 MB), count read units from its size, return it.

    Counted before the answer is sent, so a reading taken after it includes it. Half a
    unit per 4 KB unless the read is ``ConsistentRead``, as DynamoDB bills it.
    """
    try:
        parts = list(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    size = sum(len(part) for part in parts)
    meter.dynamodb_units(read=read_units(size, is_consistent(body)))
    return parts


def metered(invoker: Invoker, meter: Meter = METER) -> Invoker:
    """An invoker that counts each invocation with how long it ran."""

    def invoke(name: str, body: bytes | str | None) -> tuple[bytes, bool]:
        started = time.perf_counter()
        try:
            return invoker(name, body)
        finally:
            meter.invocation(name, time.perf_counter() - started)

    return invoke
