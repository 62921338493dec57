"""Reading raw bodies: what is a refused request and what is a record to validate."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest

from chalicelib.request_body import input_format, parse_body
from shared.datasets.base import EXTRA_COLUMNS_FIELD
from shared.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    SourceFormatError,
    UnknownDatasetError,
    UnsupportedMediaTypeError,
)
from shared.models import ContentEncoding, RawRow
from shared.raw_input import (
    UNPARSED_FIELD,
    InputFormat,
    SourceRow,
    read_rows,
)

HEADER = (
    "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,"
    "carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour"
)
ROW = "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01T10:00:00Z"


def _parse(body: str | bytes, fmt: InputFormat, dataset: str | None = "flights", **limits: int):
    raw = body.encode() if isinstance(body, str) else body
    return parse_body(
        raw,
        fmt,
        dataset=dataset,
        max_records=limits.get("max_records", 100),
        max_body_bytes=limits.get("max_body_bytes", 10_000),
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", InputFormat.JSON),
        ("Application/JSON; charset=utf-8", InputFormat.JSON),
        ("text/csv", InputFormat.CSV),
        ("application/x-ndjson", InputFormat.NDJSON),
        ("application/jsonl", InputFormat.NDJSON),
    ],
)
def test_content_type_names_the_format(header: str, expected: InputFormat):
    assert input_format(header) is expected


@pytest.mark.parametrize("header", [None, "", "text/plain", "multipart/form-data"])
def test_missing_or_other_content_type_is_unsupported(header: str | None):
    with pytest.raises(UnsupportedMediaTypeError):
        input_format(header)


def test_csv_rows_keep_their_physical_line_numbers():
    body = f"{HEADER}\n{ROW}\n\n{ROW}\n"

    parsed = _parse(body, InputFormat.CSV)

    assert [row.line for row in parsed.rows] == [2, 4]
    assert parsed.rows[0].values["carrier"] == "UA"


def test_csv_header_in_another_order_is_accepted():
    columns = HEADER.split(",")
    values = ROW.split(",")
    body = ",".join(reversed(columns)) + "\n" + ",".join(reversed(values)) + "\n"

    parsed = _parse(body, InputFormat.CSV)

    assert parsed.rows[0].values == dict(zip(columns, values, strict=True))


def test_ragged_csv_row_becomes_a_record_for_validation_to_reject():
    parsed = _parse(f"{HEADER}\n{ROW},surprise\n2013,1\n", InputFormat.CSV)

    assert parsed.rows[0].values[EXTRA_COLUMNS_FIELD] == ["surprise"]
    assert parsed.rows[1].values["carrier"] is None


def test_csv_with_bom_is_read():
    assert len(_parse(("\ufeff" + HEADER + "\n" + ROW + "\n").encode(), InputFormat.CSV).rows) == 1


def test_json_dataset_query_must_agree_with_body():
    body = json.dumps({"dataset": "flights", "records": [{"a": 1}]})

    with pytest.raises(MalformedRequestError, match="contradicts"):
        _parse(body, InputFormat.JSON, dataset="other")


def test_json_body_fields_are_reported():
    with pytest.raises(MalformedRequestError) as caught:
        _parse(json.dumps({"dataset": "flights"}), InputFormat.JSON, dataset=None)

    assert caught.value.details == [{"field": "records", "message": "Field required"}]


def test_unknown_dataset_is_refused():
    with pytest.raises(UnknownDatasetError, match="known datasets: flights"):
        _parse(json.dumps({"dataset": "trains", "records": [{}]}), InputFormat.JSON, None)


def test_record_limit_counts_records_not_lines():
    body = f"{HEADER}\n{ROW}\n{ROW}\n{ROW}\n"

    assert len(_parse(body, InputFormat.CSV, max_records=3).rows) == 3
    with pytest.raises(PayloadTooLargeError, match="3 records"):
        _parse(body, InputFormat.CSV, max_records=2)


def test_body_limit_is_checked_before_parsing():
    with pytest.raises(PayloadTooLargeError):
        _parse(b"x" * 11, InputFormat.CSV, max_body_bytes=10)


def test_ndjson_skips_blank_lines_and_keeps_line_numbers():
    parsed = _parse('{"a": 1}\n\n{"a": 2}\n', InputFormat.NDJSON)

    assert [(r.line, r.values["a"]) for r in parsed.rows] == [(1, 1), (3, 2)]


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "{"])
def test_ndjson_line_that_is_not_an_object_is_refused_with_its_number(line: str):
    with pytest.raises(MalformedRequestError, match="line 2"):
        _parse('{"a": 1}\n' + line + "\n", InputFormat.NDJSON)


# --------------------------------------------------------------------------- streaming sources


def _rows(body: bytes, fmt: InputFormat, **options: Any) -> list[SourceRow]:
    return list(read_rows(io.BytesIO(body), fmt, "flights", **options))


def test_a_gzip_source_streams_the_same_rows_as_the_plain_one():
    plain = f"{HEADER}\n{ROW}\n{ROW}\n".encode()

    assert _rows(gzip.compress(plain), InputFormat.CSV, encoding=ContentEncoding.GZIP) == _rows(
        plain, InputFormat.CSV
    )


@pytest.mark.parametrize(
    ("body", "encoding", "code", "line"),
    [
        (b"", None, "empty_file", None),
        (b"\n \n", None, "empty_file", None),
        (f"{HEADER}\n".encode(), None, "no_records", None),
        (HEADER.replace("origin", "from").encode() + b"\n", None, "header_mismatch", 1),
        (f"{HEADER}\n{ROW}\n{ROW}\n".encode() + b"2013,\xff\n", None, "not_utf8", 4),
        (b"not gzip at all", ContentEncoding.GZIP, "not_gzip", 1),
    ],
)
def test_an_unreadable_source_says_why_and_where(
    body: bytes, encoding: ContentEncoding | None, code: str, line: int | None
):
    with pytest.raises(SourceFormatError) as raised:
        _rows(body, InputFormat.CSV, encoding=encoding)

    assert (raised.value.code, raised.value.line) == (code, line)
    assert str(raised.value).startswith(f"[{code}]")


def test_a_cut_short_gzip_source_is_refused():
    packed = gzip.compress(f"{HEADER}\n{ROW}\n".encode() * 50)

    with pytest.raises(SourceFormatError) as raised:
        _rows(packed[: len(packed) // 2], InputFormat.CSV, encoding=ContentEncoding.GZIP)

    assert raised.value.code == "truncated_gzip"


def test_a_lenient_reader_turns_lines_that_are_no_records_into_rows_to_reject():
    body = b'{"year": 2013}\n[1, 2]\nnot json\n\n{"year": 2014}\n'

    rows = _rows(body, InputFormat.NDJSON, strict=False)

    assert [(r.line, r.problem.rule if r.problem else None) for r in rows] == [
        (1, None),
        (2, "not_an_object"),
        (3, "malformed_json"),
        (5, None),
    ]
    assert rows[2].values == {UNPARSED_FIELD: "not json"}


def test_a_strict_reader_refuses_the_whole_source_at_the_first_bad_line():
    with pytest.raises(SourceFormatError) as raised:
        _rows(b'{"year": 2013}\nnot json\n', InputFormat.NDJSON)

    assert (raised.value.code, raised.value.line) == ("malformed_ndjson", 2)


def test_a_huge_unparsed_line_is_kept_short_in_its_reject():
    rows = _rows(b"x" * 50_000 + b"\n", InputFormat.NDJSON, strict=False)

    kept = rows[0].values[UNPARSED_FIELD]
    assert len(kept) < 1_100
    assert kept.endswith("(50001 characters in all)")


def test_a_gzip_body_that_inflates_beyond_the_limit_is_refused():
    bomb = gzip.compress(b"0" * 1_000_000)

    with pytest.raises(PayloadTooLargeError):
        parse_body(
            bomb,
            InputFormat.CSV,
            dataset="flights",
            max_records=100,
            max_body_bytes=10_000,
            encoding=ContentEncoding.GZIP,
            max_inflated_bytes=100_000,
        )


def test_a_cut_short_gzip_body_is_malformed():
    packed = gzip.compress(f"{HEADER}\n{ROW}\n".encode())

    with pytest.raises(MalformedRequestError, match="cut short"):
        parse_body(
            packed[:-8],
            InputFormat.CSV,
            dataset="flights",
            max_records=100,
            max_body_bytes=10_000,
            encoding=ContentEncoding.GZIP,
        )


def test_a_source_row_is_written_as_a_line_the_stages_read_back_as_a_raw_row():
    rows = _rows(b'{"year": 2013}\nnot json\n', InputFormat.NDJSON, strict=False)

    back = [RawRow.model_validate_json(row.to_json()) for row in rows]

    assert [(r.line, r.values, r.problem) for r in back] == [
        (row.line, row.values, row.problem) for row in rows
    ]
