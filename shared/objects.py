"""S3 objects of the pipeline: where each one lives (keys) and reading/writing them as NDJSON.

Every key is derived from the batch, the chunk and the stage, never from time or
chance, so a retried stage overwrites what it wrote before: retries add nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import ChunkObjectMissingError, InvalidStatePayloadError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date

    from mypy_boto3_s3 import S3Client

__all__ = [
    "ObjectStore",
    "chunk_key",
    "processed_key",
    "raw_key",
]

ModelT = TypeVar("ModelT", bound=BaseModel)


def raw_key(dataset: str, batch_id: str, extension: str) -> str:
    """Key of a batch's raw body, as received."""
    return f"raw/{dataset}/{batch_id}.{extension}"


def chunk_key(batch_id: str, index: int, name: str) -> str:
    """Key of one chunk's object after a stage (``raw``, ``validated``, ``rejected``, ...)."""
    return f"chunks/{batch_id}/{index:05d}/{name}.ndjson"


def processed_key(dataset: str, flight_date: date, batch_id: str, index: int) -> str:
    """Key of a chunk's processed records for one date partition (Hive-style for Athena/Glue)."""
    return (
        f"processed/dataset={dataset}/date={flight_date.isoformat()}/{batch_id}-{index:05d}.ndjson"
    )


class ObjectStore:
    """One bucket, read and written as bytes or as NDJSON of pydantic models."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        """Write an object."""
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get_bytes(self, key: str) -> bytes:
        """Read an object.

        Raises:
            ChunkObjectMissingError: there is no object under ``key``.
        """
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except self._client.exceptions.NoSuchKey as err:
            raise ChunkObjectMissingError(f"s3://{self.bucket}/{key} does not exist") from err
        return response["Body"].read()

    def put_models(self, key: str, models: Iterable[BaseModel]) -> None:
        """Write models as NDJSON, one per line (an empty iterable writes an empty object)."""
        body = "".join(model.model_dump_json() + "\n" for model in models).encode()
        self.put_bytes(key, body, "application/x-ndjson")

    def get_models(self, key: str, model: type[ModelT]) -> list[ModelT]:
        """Read an NDJSON object written by ``put_models``.

        Raises:
            ChunkObjectMissingError: there is no object under ``key``.
            InvalidStatePayloadError: a line does not match ``model``.
        """
        lines = self.get_bytes(key).splitlines()
        try:
            return [model.model_validate_json(line) for line in lines if line.strip()]
        except ValidationError as err:
            raise InvalidStatePayloadError(
                f"s3://{self.bucket}/{key} does not hold {model.__name__} lines: {err}"
            ) from err
