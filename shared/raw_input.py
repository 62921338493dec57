"""Reading a raw batch (JSON, CSV or NDJSON, optionally gzip) into rows, for the API and ``split``.

One reader serves both entry points. ``read_rows`` streams a binary file object line by
line, so ``split`` can cut a file of many gigabytes into chunks in constant memory; the
API runs the same reader over a request body it holds (at most a few megabytes) to
refuse bad input before anything is stored, so what the API counted is what the
pipeline processes. Rows stay untyped here: validating them is the dataset's job, and a
row that fails is a rejected record, not a refused request.

What makes a whole source unreadable (an empty file, a header that is not the dataset's,
bytes that are not UTF-8, a broken gzip stream) raises ``SourceFormatError`` with a
machine-readable code and the line it is about. The API's body parser
(``chalicelib/request_body.py``) turns it into a refusal; ``split`` lets it fail the batch
with that code.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_json

from shared.datasets import Rejection, get_dataset
from shared.datasets.base import EXTRA_COLUMNS_FIELD
from shared.errors import SourceFormatError
from shared.models import ContentEncoding

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "UNPARSED_FIELD",
    "InputFormat",
    "JsonBatchRequest",
    "SourceCode",
    "SourceRow",
    "media_format",
    "read_rows",
]

UNPARSED_FIELD = "_unparsed"
# What a reject keeps of a line that could not be read as a record.
_UNPARSED_KEEP = 1_000
# The csv module's own default; a longer field is a malformed row, not a crash.
_CSV_FIELD_LIMIT = 131_072


class InputFormat(StrEnum):
    """The source formats Sluice reads, by media type."""

    JSON = "application/json"
    CSV = "text/csv"
    NDJSON = "application/x-ndjson"

    @property
    def extension(self) -> str:
        """The file extension the raw object is stored with."""
        return {"application/json": "json", "text/csv": "csv", "application/x-ndjson": "ndjson"}[
            self.value
        ]


class SourceCode(StrEnum):
    """Why a whole source cannot be read (the ``code`` of its ``SourceFormatError``)."""

    EMPTY = "empty_file"
    NO_RECORDS = "no_records"
    HEADER_MISMATCH = "header_mismatch"
    NOT_UTF8 = "not_utf8"
    NOT_GZIP = "not_gzip"
    TRUNCATED_GZIP = "truncated_gzip"
    MALFORMED_CSV = "malformed_csv"
    MALFORMED_NDJSON = "malformed_ndjson"
    MALFORMED_JSON = "malformed_json"


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


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row as the reader found it: what a ``RawRow`` line of a chunk object holds.

    A plain slotted record, not a model: split makes millions of them, and what they hold
    is the parser's own output (a line number, the values as parsed). The stage that reads
    them back from S3 validates each line as a ``RawRow``, at that boundary.
    """

    line: int
    values: dict[str, Any]
    problem: Rejection | None = None
    origin: tuple[str, int] | None = None
    """The batch and line a replayed record was rejected at, for a replay's rows."""

    def to_json(self) -> bytes:
        """The row as one line of a chunk object (a ``RawRow``)."""
        problem = None if self.problem is None else self.problem.model_dump()
        row: dict[str, Any] = {"line": self.line, "values": self.values, "problem": problem}
        if self.origin is not None:
            row["origin"] = {"batch_id": self.origin[0], "line": self.origin[1]}
        return to_json(row)


def media_format(content_type: str | None) -> InputFormat | None:
    """The format a Content-Type names (parameters such as charset ignored), or None."""
    if not content_type:
        return None
    return _MEDIA_TYPES.get(content_type.split(";", 1)[0].strip().lower())


# --------------------------------------------------------------------------- streaming


def read_rows(
    stream: IO[bytes],
    fmt: InputFormat,
    dataset: str,
    *,
    encoding: ContentEncoding | None = None,
    strict: bool = True,
) -> Iterator[SourceRow]:
    """Yield the rows of a raw source, streaming it line by line.

    Args:
        stream: the source's bytes, as stored (compressed if ``encoding`` says so).
        fmt: CSV, NDJSON or JSON (JSON is read whole; it only comes from request bodies).
        dataset: the dataset the rows belong to (its CSV header is checked).
        encoding: ``gzip`` if the bytes are gzip-compressed.
        strict: refuse the whole source on a line that is not a record (the API does);
            when False such a line becomes a row with a ``problem`` for validation to
            reject, and the other lines go on (``split`` does, for uploaded files).

    Raises:
        SourceFormatError: the source cannot be read at all (see ``SourceCode``).
        UnknownDatasetError: the dataset is not registered.
    """
    lines = _text_lines(_decompressed(stream, encoding))
    if fmt is InputFormat.CSV:
        yield from _csv_rows(lines, dataset, strict=strict)
    elif fmt is InputFormat.NDJSON:
        yield from _ndjson_rows(lines, strict=strict)
    else:
        yield from _json_rows("".join(text for _, text in lines), dataset)


def _decompressed(stream: IO[bytes], encoding: ContentEncoding | None) -> IO[bytes]:
    if encoding is ContentEncoding.GZIP:
        return cast("IO[bytes]", gzip.GzipFile(fileobj=stream, mode="rb"))
    return stream


def _text_lines(stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for each physical line, decoded as strict UTF-8."""
    number = 0
    try:
        for raw in stream:
            number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise SourceFormatError(
                    SourceCode.NOT_UTF8,
                    f"byte 0x{raw[err.start]:02x} at column {err.start + 1} is not UTF-8",
                    line=number,
                ) from err
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield number, text
    except gzip.BadGzipFile as err:
        raise SourceFormatError(
            SourceCode.NOT_GZIP, f"the file is declared gzip but is not: {err}", line=number + 1
        ) from err
    except (EOFError, zlib.error) as err:
        raise SourceFormatError(
            SourceCode.TRUNCATED_GZIP,
            f"the gzip stream is cut short or corrupt: {err}",
            line=number + 1,
        ) from err


def _expected_header(dataset: str) -> tuple[str, ...]:
    return get_dataset(dataset).csv_columns


def _csv_rows(
    lines: Iterator[tuple[int, str]], dataset: str, *, strict: bool
) -> Iterator[SourceRow]:
    expected = _expected_header(dataset)
    numbered = _LineCounter(lines)
    reader = csv.reader(numbered)
    header = _header(reader, numbered)
    if set(header) != set(expected) or len(header) != len(expected):
        missing = [c for c in expected if c not in header]
        unexpected = [c for c in header if c not in expected]
        raise SourceFormatError(
            SourceCode.HEADER_MISMATCH,
            f"the CSV header does not match dataset {dataset!r}: "
            f"missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'}",
            line=numbered.line,
            details={"missing_columns": missing, "unexpected_columns": unexpected},
        )
    width = len(header)
    count = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            if strict:
                raise SourceFormatError(
                    SourceCode.MALFORMED_CSV, str(err), line=numbered.line
                ) from err
            yield _problem(numbered.line, "malformed_csv", str(err), numbered.last_text)
            count += 1
            continue
        if not row:
            continue
        values: dict[str, Any] = dict(zip(header, row, strict=False))
        if len(row) > width:
            values[EXTRA_COLUMNS_FIELD] = row[width:]
        elif len(row) < width:
            # A short row: its missing columns are None, which validation rejects.
            values.update(dict.fromkeys(header[len(row) :]))
        count += 1
        yield SourceRow(reader.line_num, values)
    if count == 0:
        raise SourceFormatError(SourceCode.NO_RECORDS, "the file has a header but no records")


def _header(reader: Any, numbered: _LineCounter) -> list[str]:
    """Return the first row with any content; blank lines before it are skipped."""
    while True:
        try:
            row: list[str] = next(reader)
        except StopIteration:
            raise SourceFormatError(SourceCode.EMPTY, "the file is empty") from None
        except csv.Error as err:
            raise SourceFormatError(SourceCode.MALFORMED_CSV, str(err), line=numbered.line) from err
        if any(cell.strip() for cell in row):
            return row


class _LineCounter:
    """Feeds text lines to ``csv.reader`` and remembers where it is, for error messages."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self._lines = lines
        self.line = 0
        self.last_text = ""

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        self.line, self.last_text = next(self._lines)
        return self.last_text


def _ndjson_rows(lines: Iterator[tuple[int, str]], *, strict: bool) -> Iterator[SourceRow]:
    count = 0
    empty = True
    for number, text in lines:
        if not text.strip():
            continue
        empty = False
        try:
            values = json.loads(text)
        except json.JSONDecodeError as err:
            if strict:
                raise SourceFormatError(
                    SourceCode.MALFORMED_NDJSON, f"not valid JSON: {err.msg}", line=number
                ) from err
            yield _problem(number, "malformed_json", f"not valid JSON: {err.msg}", text)
            count += 1
            continue
        if not isinstance(values, dict):
            if strict:
                raise SourceFormatError(
                    SourceCode.MALFORMED_NDJSON, "not a JSON object", line=number
                )
            yield _problem(number, "not_an_object", "the line is not a JSON object", text)
            count += 1
            continue
        count += 1
        yield SourceRow(number, values)
    if empty:
        raise SourceFormatError(SourceCode.EMPTY, "the file is empty")
    if count == 0:
        raise SourceFormatError(SourceCode.NO_RECORDS, "the file holds no records")


def _problem(line: int, rule: str, message: str, text: str) -> SourceRow:
    kept = text.rstrip("\r\n")
    if len(kept) > _UNPARSED_KEEP:
        kept = kept[:_UNPARSED_KEEP] + f"… ({len(text)} characters in all)"
    return SourceRow(
        line, {UNPARSED_FIELD: kept}, Rejection(field="record", rule=rule, message=message)
    )


def _json_rows(text: str, dataset: str | None) -> Iterator[SourceRow]:
    if not text.strip():
        raise SourceFormatError(SourceCode.EMPTY, "the body is empty")
    try:
        request = JsonBatchRequest.model_validate_json(text)
    except ValidationError as err:
        raise SourceFormatError(
            SourceCode.MALFORMED_JSON,
            'the JSON body must be {"dataset": "<name>", "records": [{...}, ...]}',
        ) from err
    if dataset and dataset != request.dataset:
        raise SourceFormatError(
            SourceCode.MALFORMED_JSON,
            f"the dataset {dataset!r} contradicts the body's {request.dataset!r}",
        )
    for number, values in enumerate(request.records, start=1):
        yield SourceRow(number, values)


# --------------------------------------------------------------------------- request bodies


csv.field_size_limit(_CSV_FIELD_LIMIT)
