"""A small typed client over the Sluice HTTP API (and the presigned S3 POST of an upload).

Every answer is parsed once, into the API's own models from ``shared.models`` where the
client can import them cheaply; every failure becomes one of ``cli.errors``: a 4xx
(the API's ``{"code", "message", "details"}``, or S3's XML error) is a refused request,
a connection problem, a timeout, a 5xx or an answer that is not what the API promises
is an unavailable API. The HTTP itself goes through a ``Transport``, so tests drive the
client with a fake one and no network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.schemas import BatchAccepted, BatchPage, ErrorBody, RecordPage
from cli.errors import ApiUnavailableError, RequestRefusedError, UploadPendingError
from shared.datasets.base import Rejection
from shared.models import BatchView

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cli.transfer import Body

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "PresignedPost",
    "RejectLineage",
    "RejectView",
    "RequestsTransport",
    "SluiceClient",
    "Transport",
    "TransportError",
    "UploadTicket",
]

ModelT = TypeVar("ModelT", bound=BaseModel)
# (connect, read) seconds; a body of gigabytes takes long to send but each block is quick.
API_TIMEOUT = (10.0, 60.0)
UPLOAD_TIMEOUT = (10.0, 300.0)
_LENIENT = ConfigDict(extra="ignore", frozen=True)
_S3_ERROR = re.compile(
    r"<Code>(?P<code>[^<]*)</Code>.*?<Message>(?P<message>[^<]*)</Message>", re.S
)


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, as the client builds it."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Body | None = None
    timeout: tuple[float, float] = API_TIMEOUT


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP answer: status, headers (lower-case names) and the whole body."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class TransportError(Exception):
    """The request got no HTTP answer: refused connection, DNS failure, timeout, reset."""


class Transport(Protocol):
    """Sends a request and returns the answer, or raises ``TransportError``."""

    def send(self, request: HttpRequest) -> HttpResponse:
        """Send ``request`` and return the answer."""
        ...


class RequestsTransport:
    """The real transport: one ``requests`` session (connection reuse across polls)."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self._session = session or requests.Session()

    def send(self, request: HttpRequest) -> HttpResponse:
        """Send ``request`` with requests; a streamed body is read block by block."""
        try:
            response = self._session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                params=dict(request.params),
                data=request.body,
                timeout=request.timeout,
            )
        except requests.RequestException as err:
            raise TransportError(_reason(err)) from err
        headers = {name.lower(): value for name, value in response.headers.items()}
        return HttpResponse(status=response.status_code, body=response.content, headers=headers)


def _reason(err: requests.RequestException) -> str:
    if isinstance(err, requests.Timeout):
        return "it did not answer in time"
    if isinstance(err, requests.ConnectionError):
        return "the connection failed (nothing listens there, or it went away)"
    return f"{type(err).__name__}: {err}"


class PresignedPost(BaseModel):
    """Where and how to send an upload's file (``chalicelib.uploads.PresignedPost``)."""

    model_config = _LENIENT

    url: str
    fields: dict[str, str]
    expires_at: datetime


class UploadTicket(BaseModel):
    """The answer to ``POST /uploads``, as far as the client reads it.

    It mirrors ``chalicelib.uploads.UploadTicket`` (a unit test holds the two together)
    instead of importing it, because importing the API's module loads its Lambda
    runtime (Powertools, the X-Ray SDK) into every command.
    """

    model_config = _LENIENT

    upload_id: str
    batch_id: str
    status_url: str
    upload: PresignedPost | None
    duplicate: bool = False


class RejectLineage(BaseModel):
    """Where a rejected record came from (the part of its lineage the client shows)."""

    model_config = _LENIENT

    batch_id: str
    line: int


class RejectView(BaseModel):
    """One rejected record: its source line, its raw values and every reason."""

    model_config = _LENIENT

    lineage: RejectLineage
    values: dict[str, Any]
    reasons: list[Rejection]


class SluiceClient:
    """The API's routes as typed methods."""

    def __init__(self, api_url: str, token: str, transport: Transport) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._transport = transport

    def url(self, path: str) -> str:
        """Return the absolute URL of an API path such as a ``status_url``."""
        return f"{self.api_url}/{path.lstrip('/')}"

    def post_batch(
        self,
        body: bytes | Body,
        *,
        dataset: str,
        media_type: str,
        gzip: bool,
        idempotency_key: str,
    ) -> BatchAccepted:
        """``POST /batches``: send a whole file as the request body."""
        headers = {"Content-Type": media_type, "Idempotency-Key": idempotency_key}
        if gzip:
            headers["Content-Encoding"] = "gzip"
        request = HttpRequest(
            "POST",
            self.url("/batches"),
            headers=self._auth(headers),
            params={"dataset": dataset},
            body=body,
            timeout=UPLOAD_TIMEOUT,
        )
        return self._answer(request, BatchAccepted)

    def request_upload(
        self,
        *,
        dataset: str,
        filename: str,
        media_type: str,
        size_bytes: int,
        gzip: bool,
        idempotency_key: str,
    ) -> UploadTicket:
        """``POST /uploads``: declare a file and get a presigned POST (or its batch, if it came)."""
        declared: dict[str, Any] = {
            "dataset": dataset,
            "filename": filename,
            "content_type": media_type,
            "size_bytes": size_bytes,
        }
        if gzip:
            declared["content_encoding"] = "gzip"
        request = HttpRequest(
            "POST",
            self.url("/uploads"),
            headers=self._auth(
                {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
            ),
            body=json.dumps(declared).encode(),
        )
        return self._answer(request, UploadTicket)

    def send_upload(self, post: PresignedPost, body: Body, content_type: str) -> None:
        """Send an upload's multipart form to its presigned URL (S3, not the API).

        Raises:
            RequestRefusedError: S3 refused it (expired, another size, another type).
            ApiUnavailableError: S3 could not be reached or failed.
        """
        request = HttpRequest(
            "POST",
            post.url,
            headers={"Content-Type": content_type},
            body=body,
            timeout=UPLOAD_TIMEOUT,
        )
        response = self._send(request, what="the upload URL")
        if 200 <= response.status < 300:
            return
        text = response.body.decode("utf-8", errors="replace")
        found = _S3_ERROR.search(text)
        code, message = (found["code"], found["message"]) if found else ("", text[:500])
        if response.status >= 500:
            raise ApiUnavailableError(
                f"the upload URL answered {response.status} {code}: {message}".rstrip(": ")
            )
        raise RequestRefusedError(
            response.status,
            code or f"http_{response.status}",
            message or f"S3 refused the upload with status {response.status}",
            hint="nothing was stored: run the same command again to get a fresh upload URL",
        )

    def batch(self, batch_id: str) -> BatchView:
        """``GET /batches/{id}``.

        Raises:
            UploadPendingError: the batch's upload was issued but its file has not arrived.
        """
        return self._answer(self._get(f"/batches/{quote(batch_id, safe='')}"), BatchView)

    def batches(self, limit: int, next_token: str | None = None) -> BatchPage:
        """``GET /batches``: one page of batches, newest first."""
        params = {"limit": str(limit)}
        if next_token:
            params["next"] = next_token
        return self._answer(self._get("/batches", params), BatchPage)

    def rejects(
        self, batch_id: str, limit: int, next_token: str | None = None
    ) -> tuple[list[RejectView], str | None]:
        """``GET /batches/{id}/records?status=rejected``: one page of rejects, in line order."""
        params = {"status": "rejected", "limit": str(limit)}
        if next_token:
            params["next"] = next_token
        path = f"/batches/{quote(batch_id, safe='')}/records"
        page = self._answer(self._get(path, params), RecordPage)
        try:
            records = [RejectView.model_validate(record) for record in page.records]
        except ValidationError as err:
            raise ApiUnavailableError(
                f"a reject from {path} is not what this client reads: {_first_problem(err)}"
            ) from err
        return records, page.next

    # ------------------------------------------------------------------ plumbing

    def _auth(self, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"} | dict(
            headers or {}
        )

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> HttpRequest:
        return HttpRequest("GET", self.url(path), headers=self._auth(), params=params or {})

    def _send(self, request: HttpRequest, what: str | None = None) -> HttpResponse:
        try:
            return self._transport.send(request)
        except TransportError as err:
            target = urlsplit(request.url)
            where = f"{what or 'the Sluice API'} at {target.scheme}://{target.netloc}"
            hint = None
            if what is None:
                hint = (
                    "is the API running? Locally: `make run` in the repository; elsewhere "
                    "set SLUICE_API_URL (or --api-url) to the API's address"
                )
            raise ApiUnavailableError(f"cannot reach {where}: {err}", hint) from err

    def _answer(self, request: HttpRequest, model: type[ModelT]) -> ModelT:
        response = self._send(request)
        path = urlsplit(request.url).path
        if response.status >= 500:
            raise ApiUnavailableError(
                f"{request.method} {path} failed on the server ({response.status}): "
                f"{response.body[:300].decode('utf-8', errors='replace')}"
            )
        if response.status >= 400:
            raise _refusal(response)
        try:
            return model.model_validate_json(response.body)
        except ValidationError as err:
            raise ApiUnavailableError(
                f"the answer to {request.method} {path} ({response.status}) is not what this "
                f"client reads (is the API another version?): {_first_problem(err)}"
            ) from err


def _refusal(response: HttpResponse) -> RequestRefusedError:
    """The error for a 4xx: the API's own code, message and details where it sent them."""
    try:
        body = ErrorBody.model_validate_json(response.body)
    except ValidationError:
        text = response.body[:300].decode("utf-8", errors="replace")
        body = ErrorBody(code=f"http_{response.status}", message=text or "no message")
    hint = None
    if response.status in {401, 403}:
        hint = (
            "the API key was refused (missing, unknown, revoked, or without the scope this "
            "needs): check SLUICE_API_TOKEN or --token"
        )
    error_type = UploadPendingError if body.code == "upload_pending" else RequestRefusedError
    return error_type(response.status, body.code, body.message, body.details, hint)


def _first_problem(err: ValidationError) -> str:
    first = err.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
