"""Properties over any input: a body parses or is a 4xx; a record validates or has reasons.

Hypothesis generates the inputs (random bytes, JSON shaped almost right, CSV with
flights' header and junk rows, records of any values); nothing may raise anything else.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from chalicelib.http_errors import status_of
from chalicelib.request_body import ParsedBody, parse_body
from shared.datasets import Rejection, get_dataset
from shared.errors import RequestError
from shared.limits import kept_reasons, kept_values, poison_reasons
from shared.models import ContentEncoding
from shared.raw_input import InputFormat

FLIGHTS = get_dataset("flights")
HEADER = ",".join(FLIGHTS.csv_columns)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
flight_like = st.dictionaries(
    st.one_of(st.sampled_from(FLIGHTS.csv_columns), st.text(max_size=12)), values, max_size=25
)


def _parses_or_refuses(
    body: bytes, fmt: InputFormat, encoding: ContentEncoding | None = None
) -> None:
    try:
        parsed = parse_body(
            body,
            fmt,
            dataset="flights",
            max_records=1_000,
            max_body_bytes=200_000,
            encoding=encoding,
            max_inflated_bytes=400_000,
        )
    except RequestError as err:
        assert 400 <= status_of(err) < 500
        assert err.message
        return
    assert isinstance(parsed, ParsedBody)
    assert parsed.rows


@FAST
@given(st.binary(max_size=2_000), st.sampled_from(list(InputFormat)))
def test_any_bytes_parse_or_are_refused_with_a_4xx(body: bytes, fmt: InputFormat):
    _parses_or_refuses(body, fmt)


@FAST
@given(st.lists(flight_like, max_size=5), values)
def test_json_shaped_almost_right_parses_or_is_refused(records: list[Any], extra: Any):
    document = {"dataset": "flights", "records": records}
    if extra is not None:
        document["extra"] = extra
    body = to_json(document, inf_nan_mode="constants")
    _parses_or_refuses(body, InputFormat.JSON)


@FAST
@given(st.lists(st.text(max_size=120), max_size=8), st.booleans())
def test_csv_of_junk_rows_parses_or_is_refused(rows: list[str], gzipped: bool):
    body = ("\n".join([HEADER, *rows]) + "\n").encode("utf-8", "surrogatepass")
    if gzipped:
        _parses_or_refuses(gzip.compress(body), InputFormat.CSV, ContentEncoding.GZIP)
    else:
        _parses_or_refuses(body, InputFormat.CSV)


@FAST
@given(st.lists(st.one_of(st.text(max_size=80), flight_like.map(json.dumps)), max_size=6))
def test_ndjson_of_any_lines_parses_or_is_refused(lines: list[str]):
    body = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    _parses_or_refuses(body, InputFormat.NDJSON)


@FAST
@given(flight_like)
def test_any_record_validates_or_gets_reasons_and_its_reject_always_fits(record: dict[str, Any]):
    result = poison_reasons(record) or FLIGHTS.validate(record)

    if isinstance(result, list):
        assert result
        assert all(isinstance(r, Rejection) for r in result)
        kept = {"values": kept_values(record), "reasons": kept_reasons(result)}
        stored = to_json(kept, inf_nan_mode="constants")
        assert len(stored) < 400_000  # DynamoDB's item limit
        assert b"\\u0000" not in stored.replace(b"\\\\u0000", b"")  # no raw NUL is kept
    else:
        assert isinstance(result, FLIGHTS.valid_model)
