"""``POST /uploads``: the way in for files too large for a request body.

The client declares the file (dataset, name, content type, size, compression) and gets
back a presigned S3 POST: a URL and form fields whose policy pins the object key, the
content type and the exact size (``content-length-range``), so S3 itself refuses any
other body, and which expires in minutes. The batch is made when the object arrives
(see ``chalicelib/starter.py``). With an ``Idempotency-Key`` the batch id is fixed: asking
again returns a fresh POST for the same object while the upload has not arrived (an
interrupted upload is resumed by sending the file again), and the batch once it has.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.ingest import batch_id_for, check_idempotency_key
from chalicelib.request_body import input_format
from shared.clock import utc_now
from shared.datasets import get_dataset
from shared.errors import IdempotencyConflictError, PayloadTooLargeError, UnsupportedMediaTypeError
from shared.models import BATCH_ID_PATTERN, ContentEncoding
from shared.observability import logger
from shared.raw_input import InputFormat
from shared.uploads import Upload, upload_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from shared.context import PipelineContext

__all__ = ["PresignedPost", "UploadRequest", "UploadTicket", "request_upload"]

# Objects expire from moto's and AWS's point of view alike; the item outlives the POST a day.
_ITEM_GRACE = timedelta(days=1)
_FILENAME = re.compile(r"^[^\x00-\x1f\x7f/\\]{1,255}$")


class UploadRequest(BaseModel):
    """The JSON body of ``POST /uploads``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: Annotated[str, Field(min_length=1, max_length=64)]
    filename: Annotated[str, Field(min_length=1, max_length=255, pattern=_FILENAME.pattern)]
    content_type: Annotated[str, Field(min_length=1, max_length=100)]
    size_bytes: Annotated[int, Field(ge=1)]
    content_encoding: ContentEncoding | None = None


class PresignedPost(BaseModel):
    """Where and how to send the file: ``POST url`` with ``fields`` then the file, as multipart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    fields: dict[str, str]
    expires_at: datetime


class UploadTicket(BaseModel):
    """The answer to ``POST /uploads``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upload_id: str
    batch_id: Annotated[str, Field(pattern=BATCH_ID_PATTERN)]
    status_url: str
    key: str
    max_bytes: int
    upload: PresignedPost | None = Field(
        description="None when the file has arrived already (duplicate is true then)."
    )
    duplicate: bool = Field(
        default=False,
        description="True when this Idempotency-Key's upload has arrived: this is its batch.",
    )


def request_upload(
    request: UploadRequest,
    idempotency_key: str | None,
    ctx: PipelineContext,
    s3: S3Client,
) -> UploadTicket:
    """Record an upload and sign the POST that sends its file to S3.

    Raises:
        UnknownDatasetError: no such dataset.
        UnsupportedMediaTypeError: a content type other than CSV or NDJSON.
        PayloadTooLargeError: over the upload limit.
        MalformedRequestError: a malformed Idempotency-Key.
        IdempotencyConflictError: the key was used for another file.
    """
    get_dataset(request.dataset)
    fmt = input_format(request.content_type)
    if fmt is InputFormat.JSON:
        raise UnsupportedMediaTypeError(
            "uploads take text/csv or application/x-ndjson (a JSON batch goes to POST /batches)"
        )
    limit = ctx.settings.max_upload_bytes
    if request.size_bytes > limit:
        raise PayloadTooLargeError(
            f"the file is {request.size_bytes} bytes; one upload takes at most {limit} "
            "(S3's limit for a single POST); split the file or compress it"
        )
    check_idempotency_key(idempotency_key)
    batch_id = batch_id_for(idempotency_key)
    now = utc_now()
    upload = Upload(
        upload_id=f"up-{secrets.token_hex(16)}",
        batch_id=batch_id,
        dataset=request.dataset,
        filename=request.filename,
        content_type=fmt.value,
        content_encoding=request.content_encoding,
        size_bytes=request.size_bytes,
        key="",
        issued_at=now,
        expires_at=math.ceil(
            (now + timedelta(seconds=ctx.settings.upload_expiry_seconds) + _ITEM_GRACE).timestamp()
        ),
        idempotency_key=idempotency_key,
    )
    if idempotency_key is not None:
        existing = ctx.uploads.get(batch_id)
        if existing is not None:
            if not existing.declares_the_same(upload):
                raise IdempotencyConflictError(
                    "this Idempotency-Key was used before for another file or dataset"
                )
            upload = existing
            if ctx.batches.exists(batch_id):
                return _ticket(upload, ctx, None, duplicate=True)
    if not upload.key:
        extension = fmt.extension + (".gz" if request.content_encoding else "")
        upload = upload.model_copy(
            update={"key": upload_key(batch_id, upload.upload_id, extension)}
        )
        if not ctx.uploads.create(upload):
            # A concurrent request with the same key won: answer as it did.
            return request_upload(request, idempotency_key, ctx, s3)
    post = _sign(upload, ctx, s3)
    logger.info(
        "upload issued",
        extra={"batch_id": batch_id, "upload_id": upload.upload_id, "bytes": upload.size_bytes},
    )
    return _ticket(upload, ctx, post, duplicate=False)


def _sign(upload: Upload, ctx: PipelineContext, s3: S3Client) -> PresignedPost:
    expiry = ctx.settings.upload_expiry_seconds
    fields = {"Content-Type": upload.content_type}
    conditions: list[object] = [
        {"Content-Type": upload.content_type},
        ["content-length-range", upload.size_bytes, upload.size_bytes],
    ]
    signed = s3.generate_presigned_post(
        Bucket=ctx.raw.bucket,
        Key=upload.key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=expiry,
    )
    return PresignedPost(
        url=signed["url"],
        fields={k: str(v) for k, v in signed["fields"].items()},
        expires_at=utc_now() + timedelta(seconds=expiry),
    )


def _ticket(
    upload: Upload, ctx: PipelineContext, post: PresignedPost | None, *, duplicate: bool
) -> UploadTicket:
    return UploadTicket(
        upload_id=upload.upload_id,
        batch_id=upload.batch_id,
        status_url=f"/batches/{upload.batch_id}",
        key=upload.key,
        max_bytes=ctx.settings.max_upload_bytes,
        upload=post,
        duplicate=duplicate,
    )
