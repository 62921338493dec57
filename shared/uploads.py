"""Uploads: files too large for a request body, sent straight to S3 with a presigned POST.

``POST /uploads`` records what the client declared (dataset, file name, content type,
size, compression) as an upload item next to the batch it will become, and signs a
POST whose policy pins the object key, the content type and the exact size. The batch
itself only exists once the object has arrived (the S3 event reaches the starter), so
an upload that is abandoned half way leaves no batch behind; its item expires through
the table's TTL. The object key carries the batch id and the upload id, which is how
the starter finds the upload an object belongs to.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import from_item, put_new, to_item
from shared.models import BATCH_ID_PATTERN, ContentEncoding

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = [
    "UPLOAD_ITEM",
    "UPLOAD_PREFIX",
    "Upload",
    "UploadKey",
    "UploadRepository",
    "parse_upload_key",
    "upload_key",
]

UPLOAD_ITEM = "upload"
UPLOAD_PREFIX = "uploads/"
_KEY = re.compile(
    rf"^{UPLOAD_PREFIX}(?P<batch_id>{BATCH_ID_PATTERN[1:-1]})/"
    r"(?P<upload_id>up-[0-9a-f]{32})\.(?P<extension>[a-z]+(?:\.gz)?)$"
)


class Upload(BaseModel):
    """An issued upload: what the client declared, and where its object must land."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upload_id: str
    batch_id: str
    dataset: str
    filename: Annotated[str, Field(max_length=255)]
    content_type: str
    content_encoding: ContentEncoding | None = None
    size_bytes: Annotated[int, Field(ge=1)]
    key: str
    issued_at: datetime
    expires_at: int = Field(description="Epoch seconds: the table's TTL removes the item then.")
    idempotency_key: str | None = None

    def declares_the_same(self, other: Upload) -> bool:
        """Tell whether two uploads declare the same file (an idempotent re-issue may reuse it)."""
        fields = ("dataset", "filename", "content_type", "content_encoding", "size_bytes")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


class UploadKey(BaseModel):
    """What an object key under ``uploads/`` says about its upload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str
    upload_id: str


def upload_key(batch_id: str, upload_id: str, extension: str) -> str:
    """Key of an upload's object in the raw bucket."""
    return f"{UPLOAD_PREFIX}{batch_id}/{upload_id}.{extension}"


def parse_upload_key(key: str) -> UploadKey | None:
    """Read the batch and upload ids from an upload's object key (None if it is not one)."""
    match = _KEY.match(key)
    if match is None:
        return None
    return UploadKey(batch_id=match.group("batch_id"), upload_id=match.group("upload_id"))


class UploadRepository:
    """Reads and writes upload items (in the batches table, beside their batch)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, batch_id: str) -> Upload | None:
        """Return the upload issued for a batch id, if any."""
        response = self._table.get_item(
            Key={"batch_id": batch_id, "item": UPLOAD_ITEM}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        data: dict[str, Any] = from_item(item)
        data.pop("item", None)
        return Upload.model_validate(data)

    def create(self, upload: Upload) -> bool:
        """Store a new upload; return False if one is already issued for its batch id."""
        return put_new(self._table, to_item(upload, item=UPLOAD_ITEM), key="batch_id")
