"""S3 objects of the pipeline: where each one lives (keys) and reading/writing them.

Every key is derived from the batch, the chunk and the stage, never from time or
chance, so a retried stage overwrites what it wrote before: retries add nothing.
Large objects are never held whole: raw sources are read as a stream, and a manifest
of many chunks is written in multipart pieces.
"""

from __future__ import annotations

import io
import json
from typing import IO, TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.utilities.streaming import S3Object
from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from shared.errors import ChunkObjectMissingError, InvalidStatePayloadError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date
    from types import TracebackType

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = [
    "CHUNKS_PREFIX",
    "PROCESSED_PREFIX",
    "RAW_PREFIX",
    "JsonArrayWriter",
    "ObjectStore",
    "SourceStream",
    "chunk_key",
    "chunk_of_processed_key",
    "dump_models",
    "load_models",
    "manifest_key",
    "partition_prefix",
    "processed_key",
    "raw_key",
]

RAW_PREFIX = "raw/"
CHUNKS_PREFIX = "chunks/"
PROCESSED_PREFIX = "processed/"
# S3 multipart uploads take parts of at least 5 MiB (but the last).
_PART_BYTES = 8 * 1024 * 1024
_READ_BUFFER = 1024 * 1024

ModelT = TypeVar("ModelT", bound=BaseModel)


def raw_key(dataset: str, batch_id: str, extension: str) -> str:
    """Key of a batch's raw body, as received."""
    return f"{RAW_PREFIX}{dataset}/{batch_id}.{extension}"


def chunk_key(batch_id: str, index: int, name: str) -> str:
    """Key of one chunk's object after a stage (``raw``, ``validated``, ``rejected``, ...)."""
    return f"{CHUNKS_PREFIX}{batch_id}/{index:06d}/{name}.ndjson"


def manifest_key(batch_id: str, run: int = 0) -> str:
    """Key of a run's manifest: the JSON array of its chunks that the Distributed Map reads."""
    name = "manifest" if run == 0 else f"manifest-r{run}"
    return f"{CHUNKS_PREFIX}{batch_id}/{name}.json"


def partition_prefix(dataset: str, partition: date) -> str:
    """Prefix of one date partition of a dataset's processed records (Hive-style)."""
    return f"{PROCESSED_PREFIX}dataset={dataset}/date={partition.isoformat()}/"


def processed_key(dataset: str, partition: date, batch_id: str, index: int) -> str:
    """Key of a chunk's processed records for one date partition (for Athena/Glue too)."""
    return f"{partition_prefix(dataset, partition)}{batch_id}-{index:06d}.ndjson"


def chunk_of_processed_key(key: str) -> tuple[str, int] | None:
    """The (batch id, chunk index) a processed object belongs to, read from its key."""
    name = key.rsplit("/", 1)[-1].removesuffix(".ndjson")
    batch_id, _, index = name.rpartition("-")
    if not batch_id or not index.isdigit():
        return None
    return batch_id, int(index)


def dump_models(models: Iterable[BaseModel]) -> bytes:
    """Models as NDJSON, one per line: what a stage writes between stages."""
    return "".join(model.model_dump_json() + "\n" for model in models).encode()


def load_models(body: bytes, model: type[ModelT]) -> list[ModelT]:
    """The models of NDJSON written by ``dump_models`` (blank lines skipped).

    Raises:
        ValidationError: a line does not match ``model``.
    """
    return [model.model_validate_json(line) for line in body.splitlines() if line.strip()]


class ObjectStore:
    """One bucket, read and written as bytes, streams or NDJSON of pydantic models."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put_bytes(
        self, key: str, body: bytes, content_type: str, content_encoding: str | None = None
    ) -> None:
        """Write an object."""
        extra: dict[str, Any] = {"ContentEncoding": content_encoding} if content_encoding else {}
        self._client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra
        )

    def exists(self, key: str) -> bool:
        """Tell whether there is an object under ``key``."""
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

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

    def open(self, key: str, version_id: str | None = None) -> SourceStream:
        """Open an object as a buffered binary stream (ranged GETs; never read whole).

        Raises:
            ChunkObjectMissingError: there is no object under ``key`` (or that version).
        """
        source = S3Object(
            bucket=self.bucket, key=key, version_id=version_id, boto3_client=self._client
        )
        try:
            source.size  # noqa: B018 - a HEAD, so a missing object fails here and clearly
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in {"404", "NoSuchKey", "NoSuchVersion", "400"}:
                raise ChunkObjectMissingError(f"s3://{self.bucket}/{key} does not exist") from err
            raise
        return SourceStream(_Readable(source), _READ_BUFFER)

    def put_lines(self, key: str, lines: Iterable[bytes]) -> None:
        """Write JSON lines (already serialised) as one NDJSON object."""
        self.put_bytes(key, b"".join(line + b"\n" for line in lines), "application/x-ndjson")

    def put_models(self, key: str, models: Iterable[BaseModel]) -> None:
        """Write models as NDJSON, one per line (an empty iterable writes an empty object)."""
        self.put_bytes(key, dump_models(models), "application/x-ndjson")

    def get_models(self, key: str, model: type[ModelT]) -> list[ModelT]:
        """Read an NDJSON object written by ``put_models``.

        Raises:
            ChunkObjectMissingError: there is no object under ``key``.
            InvalidStatePayloadError: a line does not match ``model``.
        """
        body = self.get_bytes(key)
        try:
            return load_models(body, model)
        except ValidationError as err:
            raise InvalidStatePayloadError(
                f"s3://{self.bucket}/{key} does not hold {model.__name__} lines: {err}"
            ) from err

    def get_json_lines(self, key: str) -> list[dict[str, Any]]:
        """Read an NDJSON object as plain JSON objects (what the API shows, unchanged).

        Raises:
            ChunkObjectMissingError: there is no object under ``key``.
        """
        return [json.loads(line) for line in self.get_bytes(key).splitlines() if line.strip()]

    def get_json_array(self, key: str) -> list[Any]:
        """Read a JSON array object (a manifest).

        Raises:
            ChunkObjectMissingError: there is no object under ``key``.
        """
        data = json.loads(self.get_bytes(key))
        if not isinstance(data, list):
            raise InvalidStatePayloadError(f"s3://{self.bucket}/{key} is not a JSON array")
        return data

    def delete(self, keys: Iterable[str]) -> None:
        """Delete objects (a missing one is no error), up to a thousand per request."""
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == 1000:
                self._delete(batch)
                batch = []
        if batch:
            self._delete(batch)

    def _delete(self, keys: list[str]) -> None:
        self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )

    def list_keys(
        self, prefix: str, start_after: str | None = None, limit: int = 1000
    ) -> tuple[list[str], bool]:
        """List up to ``limit`` keys under ``prefix`` after ``start_after``, and if more follow."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if start_after:
            params["StartAfter"] = start_after
        response = self._client.list_objects_v2(**params)
        keys = [obj["Key"] for obj in response.get("Contents", [])]
        return keys, bool(response.get("IsTruncated"))

    def json_array_writer(self, key: str) -> JsonArrayWriter:
        """Return a writer that streams a JSON array of models to ``key``."""
        return JsonArrayWriter(self._client, self.bucket, key)


class _Readable(io.RawIOBase):
    """A raw stream over anything with ``read(n)``, so ``io.BufferedReader`` can buffer it."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()


class SourceStream(io.BufferedReader):
    """A buffered stream over an S3 object that knows how many bytes it has fetched."""

    @property
    def bytes_read(self) -> int:
        """Bytes of the object read so far (the compressed size, for a gzip object)."""
        raw = self.raw
        return raw.bytes_read if isinstance(raw, _Readable) else 0


class JsonArrayWriter:
    """Write a JSON array of models to S3 item by item, in multipart pieces when it is large.

    Memory stays at one part (8 MiB) whatever the array's length; an array that fits in
    one part is a single ``PutObject``. Use it as a context manager: leaving the block
    normally completes the object, an exception aborts it (no partial object is left).
    """

    def __init__(self, client: S3Client, bucket: str, key: str) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._buffer = bytearray(b"[")
        self._count = 0
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []

    def __enter__(self) -> JsonArrayWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self._complete()
        elif self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )

    @property
    def count(self) -> int:
        """How many items were written."""
        return self._count

    def add(self, model: BaseModel) -> None:
        """Append one item."""
        if self._count:
            self._buffer += b","
        self._buffer += model.model_dump_json().encode()
        self._count += 1
        if len(self._buffer) >= _PART_BYTES:
            self._flush_part()

    def _flush_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType="application/json"
            )["UploadId"]
        number = len(self._parts) + 1
        etag = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})
        self._buffer = bytearray()

    def _complete(self) -> None:
        self._buffer += b"]"
        if self._upload_id is None:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                ContentType="application/json",
            )
            return
        self._flush_part()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
