"""What the file to ingest is, and which way into the API it takes.

The format comes from the file name (``.csv``, ``.ndjson``/``.jsonl``, ``.json``, each
optionally ``.gz``) and gzip from the name or the file's first two bytes. A file the API
takes in one request body goes through ``POST /batches``; anything larger (by bytes, by
records, or by what its gzip inflates to) goes through ``POST /uploads`` and straight to
S3. The limits are the API's own defaults, read from ``shared.settings``.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cli.errors import UsageError
from shared.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CSV",
    "JSON",
    "NDJSON",
    "BodyLimits",
    "BodyMeasure",
    "Route",
    "SourceFile",
    "choose_route",
    "describe_file",
    "json_batch_body",
    "measure_body",
    "media_type_for",
]

CSV = "text/csv"
NDJSON = "application/x-ndjson"
JSON = "application/json"
_MEDIA_TYPES = {".csv": CSV, ".ndjson": NDJSON, ".jsonl": NDJSON, ".json": JSON}
_GZIP_MAGIC = b"\x1f\x8b"
_READ_BLOCK = 1 << 20


class Route(StrEnum):
    """The two ways a file gets into Sluice."""

    BATCHES = "POST /batches"
    UPLOAD = "POST /uploads"


def _default(name: str) -> int:
    return int(Settings.model_fields[name].default)


@dataclass(frozen=True)
class BodyLimits:
    """What one ``POST /batches`` takes (the API's defaults)."""

    max_body_bytes: int = _default("max_body_bytes")
    max_records: int = _default("max_records")
    max_inflated_bytes: int = _default("max_inflated_bytes")


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest: where it is, how big, in which format and whether it is gzip."""

    path: Path
    size_bytes: int
    media_type: str
    gzip: bool

    @property
    def filename(self) -> str:
        """The file's name without its folder (what ``POST /uploads`` declares)."""
        return self.path.name


@dataclass(frozen=True)
class BodyMeasure:
    """How many records a small file holds (about: lines) and what it inflates to."""

    records: int
    inflated_bytes: int


def media_type_for(name: str) -> tuple[str, bool]:
    """Return the media type a file name says, and whether it ends in ``.gz``.

    Raises:
        UsageError: the extension is none Sluice reads.
    """
    lowered = name.lower()
    gzipped = lowered.endswith(".gz")
    stem = lowered.removesuffix(".gz")
    for extension, media_type in _MEDIA_TYPES.items():
        if stem.endswith(extension):
            return media_type, gzipped
    raise UsageError(
        f"cannot tell the format of {name!r} from its name: use .csv, .ndjson or .jsonl "
        "(each optionally .gz) or .json"
    )


def describe_file(path: Path) -> SourceFile:
    """Look at a file: its size, its format, and whether it is gzip (by name or by content).

    Raises:
        UsageError: the file cannot be read, is empty, or its format is unknown.
    """
    media_type, gzipped = media_type_for(path.name)
    try:
        with path.open("rb") as stream:
            head = stream.read(len(_GZIP_MAGIC))
        size = path.stat().st_size
    except OSError as err:
        raise UsageError(f"cannot read {str(path)!r}: {err.strerror or err}") from err
    if size == 0:
        raise UsageError(f"{str(path)!r} is empty: there is nothing to ingest")
    return SourceFile(
        path=path, size_bytes=size, media_type=media_type, gzip=gzipped or head == _GZIP_MAGIC
    )


def measure_body(source: SourceFile, limits: BodyLimits) -> BodyMeasure:
    """Count a small file's lines and inflated bytes, stopping once either is over the limit.

    A gzip stream that cannot be read is measured as far as it goes: the API says
    precisely what is wrong with it.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if source.gzip else None
    newlines = inflated = 0
    last = b"\n"
    with source.path.open("rb") as stream:
        while block := stream.read(_READ_BLOCK):
            if inflater is not None:
                try:
                    block = inflater.decompress(block, limits.max_inflated_bytes + 1 - inflated)
                except zlib.error:
                    break
            if block:
                newlines += block.count(b"\n")
                inflated += len(block)
                last = block[-1:]
            if inflated > limits.max_inflated_bytes or newlines > limits.max_records + 1:
                break
    lines = newlines + (0 if last == b"\n" else 1)
    header = 1 if source.media_type == CSV else 0
    return BodyMeasure(records=max(lines - header, 0), inflated_bytes=inflated)


def choose_route(
    source: SourceFile,
    limits: BodyLimits,
    measure: BodyMeasure | None = None,
    *,
    force_upload: bool = False,
) -> Route:
    """Pick ``POST /batches`` for a file one request body takes, else ``POST /uploads``.

    Args:
        source: the file.
        limits: what one request body may hold.
        measure: the file's records and inflated size (see ``measure_body``); without it
            only the byte size decides.
        force_upload: upload whatever the size (CSV and NDJSON only).

    Raises:
        UsageError: a JSON file that only an upload could take (uploads take CSV or NDJSON).
    """
    fits = source.size_bytes <= limits.max_body_bytes
    if source.media_type == JSON:
        if fits and not force_upload:
            return Route.BATCHES
        raise UsageError(
            f"{source.filename!r} is JSON, which only POST /batches takes "
            f"(at most {limits.max_body_bytes:,} bytes): write its records as NDJSON "
            "(one object a line, .ndjson) to upload a file of any size"
        )
    if force_upload or not fits:
        return Route.UPLOAD
    if measure is not None and (
        measure.records > limits.max_records or measure.inflated_bytes > limits.max_inflated_bytes
    ):
        return Route.UPLOAD
    return Route.BATCHES


def json_batch_body(data: bytes, dataset: str, *, gzipped: bool) -> bytes:
    """Return the ``POST /batches`` body for a JSON file (gzip again if the file was).

    A file holding ``{"dataset": ..., "records": [...]}`` is sent as it is; one holding
    a bare array of records is wrapped into that object, byte for byte, so the same
    file always makes the same body (and an ``Idempotency-Key`` recognises it).
    """
    text = gzip.decompress(data) if gzipped else data
    text = text.removeprefix(b"\xef\xbb\xbf")
    if not text.lstrip().startswith(b"["):
        return data
    body = b'{"dataset": ' + json.dumps(dataset).encode() + b', "records": ' + text + b"}"
    return gzip.compress(body, mtime=0) if gzipped else body
