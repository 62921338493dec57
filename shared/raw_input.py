"""Reading a raw batch body (JSON, CSV or NDJSON) into rows, for both the API and ``split``.

The API parses a body to refuse bad input before anything is stored; ``split`` parses
the stored raw object again with the same function, so what the API counted is what
the pipeline processes. Rows stay untyped here: validating them is the dataset's job,
and a row that fails is a rejected record, not a refused request.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.datasets import get_dataset
from shared.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from shared.models import RawRow

__all__ = [
    "EXTRA_COLUMNS_FIELD",
    "InputFormat",
    "JsonBatchRequest",
    "ParsedBody",
    "input_format",
    "parse_body",
]

EXTRA_COLUMNS_FIELD = "_extra_columns"


class InputFormat(StrEnum):
    """The body formats ``POST /batches`` reads, by media type."""

    JSON = "application/json"
    CSV = "text/csv"
    NDJSON = "application/x-ndjson"

    @property
    def extension(self) -> str:
        """The file extension the raw object is stored with."""
        return {"application/json": "json", "text/csv": "csv", "application/x-ndjson": "ndjson"}[
            self.value
        ]


_MEDIA_TYPES = {
    "application/json": InputFormat.JSON,
    "text/csv": InputFormat.CSV,
    "application/x-ndjson": InputFormat.NDJSON,
    "application/ndjson": InputFormat.NDJSON,
    "application/jsonl": InputFormat.NDJSON,
}


class JsonBatchRequest(BaseModel):
    """The JSON body of ``POST /batches``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: Annotated[str, Field(min_length=1, max_length=64)]
    records: Annotated[list[dict[str, Any]], Field(min_length=1)]


@dataclass(frozen=True)
class ParsedBody:
    """A body that passed every request-level check."""

    dataset: str
    input_format: InputFormat
    rows: list[RawRow]


def input_format(content_type: str | None) -> InputFormat:
    """Return the body format named by a Content-Type header (parameters such as charset ignored).

    Raises:
        UnsupportedMediaTypeError: the header is missing or names another media type.
    """
    if not content_type:
        raise UnsupportedMediaTypeError(
            "Content-Type is required: application/json, text/csv or application/x-ndjson"
        )
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        return _MEDIA_TYPES[media_type]
    except KeyError:
        raise UnsupportedMediaTypeError(
            f"unsupported Content-Type {media_type!r}: "
            "use application/json, text/csv or application/x-ndjson"
        ) from None


def parse_body(
    body: bytes,
    fmt: InputFormat,
    *,
    dataset: str | None,
    max_records: int,
    max_body_bytes: int,
) -> ParsedBody:
    """Parse a raw batch body into rows, refusing anything that is not a well-formed batch.

    Args:
        body: the request body as received.
        fmt: its format (from the Content-Type).
        dataset: the ``?dataset=`` query parameter (required for CSV and NDJSON).
        max_records: the most records one batch may hold.
        max_body_bytes: the largest body accepted.

    Raises:
        MalformedRequestError: empty, undecodable or malformed body, or wrong CSV header.
        PayloadTooLargeError: the body or its record count is over the limit.
        UnknownDatasetError: the dataset is not registered.
    """
    if len(body) > max_body_bytes:
        raise PayloadTooLargeError(
            f"body is {len(body)} bytes; the limit is {max_body_bytes} bytes",
        )
    text = _decode(body)
    if not text.strip():
        raise MalformedRequestError("the body is empty")
    if fmt is InputFormat.JSON:
        name, rows = _parse_json(text, dataset)
    else:
        if not dataset:
            raise MalformedRequestError(
                "the dataset query parameter is required for CSV and NDJSON bodies"
            )
        name = dataset
        rows = _parse_csv(text, name) if fmt is InputFormat.CSV else _parse_ndjson(text)
    get_dataset(name)
    if not rows:
        raise MalformedRequestError("the body holds no records")
    if len(rows) > max_records:
        raise PayloadTooLargeError(
            f"the batch holds {len(rows)} records; the limit is {max_records} per batch"
        )
    return ParsedBody(dataset=name, input_format=fmt, rows=rows)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MalformedRequestError(f"the body is not valid UTF-8 (byte {err.start})") from err


def _parse_json(text: str, dataset: str | None) -> tuple[str, list[RawRow]]:
    try:
        request = JsonBatchRequest.model_validate_json(text)
    except ValidationError as err:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in err.errors(include_url=False, include_input=False)[:20]
        ]
        raise MalformedRequestError(
            'the JSON body must be {"dataset": "<name>", "records": [{...}, ...]}', details
        ) from err
    if dataset and dataset != request.dataset:
        raise MalformedRequestError(
            f"the dataset query parameter {dataset!r} contradicts the body's {request.dataset!r}"
        )
    rows = [RawRow(line=i, values=values) for i, values in enumerate(request.records, start=1)]
    return request.dataset, rows


def _parse_csv(text: str, dataset: str) -> list[RawRow]:
    expected = get_dataset(dataset).csv_columns
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=EXTRA_COLUMNS_FIELD)
    header = tuple(reader.fieldnames or ())
    if set(header) != set(expected) or len(header) != len(expected):
        missing = [c for c in expected if c not in header]
        unexpected = [c for c in header if c not in expected]
        raise MalformedRequestError(
            f"the CSV header does not match dataset {dataset!r}",
            [{"missing_columns": missing, "unexpected_columns": unexpected}],
        )
    rows: list[RawRow] = []
    try:
        for values in reader:
            # A short row leaves None for its missing columns: validation rejects the record.
            rows.append(RawRow(line=reader.line_num, values=dict(values)))
    except csv.Error as err:
        raise MalformedRequestError(
            f"the CSV is malformed at line {reader.line_num}: {err}"
        ) from err
    return rows


def _parse_ndjson(text: str) -> list[RawRow]:
    rows: list[RawRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = json.loads(line)
        except json.JSONDecodeError as err:
            raise MalformedRequestError(f"line {number} is not valid JSON: {err.msg}") from err
        if not isinstance(values, dict):
            raise MalformedRequestError(f"line {number} is not a JSON object")
        rows.append(RawRow(line=number, values=values))
    return rows
