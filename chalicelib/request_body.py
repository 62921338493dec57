"""The body of ``POST /batches``: its headers read, then refused whole or parsed into rows.

The request-level checks live here, at the API boundary: the Content-Type and
Content-Encoding, the size limits, the JSON envelope and the dataset parameter. The rows
themselves are read by the same streaming reader ``split`` uses (``shared/raw_input.py``),
so what the API counted is what the pipeline processes.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

from pydantic import ValidationError

from shared.datasets import get_dataset
from shared.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    SourceFormatError,
    UnsupportedMediaTypeError,
    field_errors,
)
from shared.models import ContentEncoding
from shared.raw_input import (
    InputFormat,
    JsonBatchRequest,
    SourceCode,
    SourceRow,
    media_format,
    read_rows,
)

__all__ = ["ParsedBody", "content_encoding", "input_format", "parse_body"]


@dataclass(frozen=True)
class ParsedBody:
    """A body that passed every request-level check."""

    dataset: str
    rows: list[SourceRow]


def input_format(content_type: str | None) -> InputFormat:
    """Return the body format named by a Content-Type header (parameters such as charset ignored).

    Raises:
        UnsupportedMediaTypeError: the header is missing or names another media type.
    """
    if not content_type:
        raise UnsupportedMediaTypeError(
            "Content-Type is required: application/json, text/csv or application/x-ndjson"
        )
    fmt = media_format(content_type)
    if fmt is None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        raise UnsupportedMediaTypeError(
            f"unsupported Content-Type {media_type!r}: "
            "use application/json, text/csv or application/x-ndjson"
        )
    return fmt


def content_encoding(header: str | None) -> ContentEncoding | None:
    """Return the compression a Content-Encoding header names (``identity`` or none: None).

    Raises:
        UnsupportedMediaTypeError: an encoding other than gzip.
    """
    value = (header or "").strip().lower()
    if value in {"", "identity"}:
        return None
    if value in {"gzip", "x-gzip"}:
        return ContentEncoding.GZIP
    raise UnsupportedMediaTypeError(f"unsupported Content-Encoding {value!r}: use gzip or none")


def parse_body(
    body: bytes,
    fmt: InputFormat,
    *,
    dataset: str | None,
    max_records: int,
    max_body_bytes: int,
    encoding: ContentEncoding | None = None,
    max_inflated_bytes: int | None = None,
) -> ParsedBody:
    """Parse a request body into rows, refusing anything that is not a well-formed batch.

    Args:
        body: the request body as received (gzip-compressed if ``encoding`` says so).
        fmt: its format (from the Content-Type).
        dataset: the ``?dataset=`` query parameter (required for CSV and NDJSON).
        max_records: the most records one batch may hold.
        max_body_bytes: the largest body accepted.
        encoding: the body's Content-Encoding.
        max_inflated_bytes: the most a gzip body may inflate to.

    Raises:
        MalformedRequestError: empty, undecodable or malformed body, or wrong CSV header.
        PayloadTooLargeError: the body, its inflated size or its record count is over the limit.
        UnknownDatasetError: the dataset is not registered.
    """
    if len(body) > max_body_bytes:
        raise PayloadTooLargeError(
            f"body is {len(body)} bytes; the limit is {max_body_bytes} bytes",
        )
    if encoding is ContentEncoding.GZIP:
        body = _inflate(body, max_inflated_bytes or 10 * max_body_bytes)
    if fmt is InputFormat.JSON:
        name, rows = _parse_json_body(body, dataset)
    else:
        if not dataset:
            raise MalformedRequestError(
                "the dataset query parameter is required for CSV and NDJSON bodies"
            )
        name = dataset
        get_dataset(name)
        rows = _read_all(body, fmt, name)
    if len(rows) > max_records:
        raise PayloadTooLargeError(
            f"the batch holds {len(rows)} records; the limit is {max_records} per batch"
        )
    return ParsedBody(dataset=name, rows=rows)


def _read_all(body: bytes, fmt: InputFormat, dataset: str) -> list[SourceRow]:
    try:
        return list(read_rows(io.BytesIO(body), fmt, dataset, strict=True))
    except SourceFormatError as err:
        raise _refusal(err) from err


def _refusal(err: SourceFormatError) -> MalformedRequestError:
    """The API's answer to a body the reader cannot read: the same code and line, as a 400."""
    messages = {
        SourceCode.EMPTY: "the body is empty",
        SourceCode.NO_RECORDS: "the body holds no records",
        SourceCode.NOT_UTF8: f"the body is not valid UTF-8 (line {err.line}: {err.message})",
        SourceCode.MALFORMED_NDJSON: f"line {err.line} is not a JSON object: {err.message}",
        SourceCode.MALFORMED_CSV: f"the CSV is malformed at line {err.line}: {err.message}",
    }
    message = messages.get(SourceCode(err.code), err.message)
    return MalformedRequestError(message, [{"code": err.code, "line": err.line, **err.details}])


def _parse_json_body(body: bytes, dataset: str | None) -> tuple[str, list[SourceRow]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MalformedRequestError(f"the body is not valid UTF-8 (byte {err.start})") from err
    if not text.strip():
        raise MalformedRequestError("the body is empty")
    try:
        request = JsonBatchRequest.model_validate_json(text)
    except ValidationError as err:
        raise MalformedRequestError(
            'the JSON body must be {"dataset": "<name>", "records": [{...}, ...]}',
            field_errors(err),
        ) from err
    if dataset and dataset != request.dataset:
        raise MalformedRequestError(
            f"the dataset query parameter {dataset!r} contradicts the body's {request.dataset!r}"
        )
    get_dataset(request.dataset)
    rows = [SourceRow(i, values) for i, values in enumerate(request.records, start=1)]
    return request.dataset, rows


def _inflate(body: bytes, limit: int) -> bytes:
    """Gunzip a body (every member of it), refusing one that inflates beyond ``limit``."""
    out = bytearray()
    data = body
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as err:
            raise MalformedRequestError(
                f"the body is declared gzip but cannot be inflated: {err}",
                [{"code": SourceCode.NOT_GZIP}],
            ) from err
        if len(out) > limit:
            raise PayloadTooLargeError(f"the gzip body inflates beyond {limit} bytes")
        if not inflater.eof:
            raise MalformedRequestError(
                "the gzip body is cut short", [{"code": SourceCode.TRUNCATED_GZIP}]
            )
        data = inflater.unused_data
    return bytes(out)
