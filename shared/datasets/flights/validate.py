"""The fast row reader: one raw flight row (CSV strings or JSON values) into a ``ValidFlight``.

It reads a row field by field and collects every failed rule as a ``Rejection``, instead
of stopping at the first: a client fixes all of a row's defects at once. The rules
themselves (names, messages, bounds, patterns) are the objects of ``rules.py``, from which
the models build their constraints too; which fields are required comes from the model.
A row that passes is built with ``trusted``, without validating it again: the reader has
checked every rule the model has.
"""

from __future__ import annotations

import re
import typing
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from shared.datasets.base import EXTRA_COLUMNS_FIELD, Rejection
from shared.datasets.flights import reference
from shared.datasets.flights.models import ValidFlight
from shared.datasets.flights.rules import (
    AIRPORT_CODE,
    CALENDAR_DATE,
    CANCELLATION,
    CARRIER_CODE,
    CLOCK_TIME,
    DELAY,
    EXTRA_VALUES,
    INTEGER,
    MONTH,
    POSITIVE,
    REQUIRED,
    SCHEDULE,
    STRING,
    TAIL_NUMBER,
    TIME_HOUR_SCHEDULE,
    UNKNOWN_FIELD,
    UTC_DATETIME,
    YEAR,
    CodeRule,
    IntegerRange,
    local_datetime,
    utc_readings,
)
from shared.models import trusted

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CSV_COLUMNS", "is_valid_clock_time", "validate_flight"]

CSV_COLUMNS: Final = (
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "air_time",
    "distance",
    "hour",
    "minute",
    "time_hour",
)
_COLUMN_SET: Final = frozenset(CSV_COLUMNS)
# A column is required when the model does not allow None for it.
_REQUIRED: Final = frozenset(
    name
    for name in CSV_COLUMNS
    if type(None) not in typing.get_args(ValidFlight.model_fields[name].annotation)
)
_MISSING: Final = frozenset({"", "NA"})
_INT_PATTERN: Final = re.compile(r"[+-]?\d+")
_ACTUALS: Final = ("dep_delay", "arr_time", "arr_delay", "air_time")


def is_valid_clock_time(value: int) -> bool:
    """Tell whether ``value`` is a local HHMM clock time: 0..2400, minutes below 60.

    ``2400`` is allowed: it is midnight at the end of the day (00:00 of the next day).
    """
    return CLOCK_TIME.accepts(value)


def _parse_int(value: object) -> int | None:
    if type(value) is str and value.isdecimal():  # the common case first: "517"
        return int(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _INT_PATTERN.fullmatch(value):
        return int(value)
    return None


def _parse_datetime(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, datetime) else None


class _RowReader:
    """Reads one raw row field by field, collecting every rejection instead of stopping."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        self._row = row
        self.rejections: list[Rejection] = []
        self.failed: set[str] = set()

    def reject(self, field: str, rule: str, message: str) -> None:
        self.rejections.append(Rejection(field=field, rule=rule, message=message))
        self.failed.add(field)

    def check_columns(self) -> None:
        for key in self._row:
            if key == EXTRA_COLUMNS_FIELD:
                extra = self._row[key]
                message = EXTRA_VALUES.explain(key, extra, count=len(extra))
                self.reject(key, EXTRA_VALUES.name, message)
            elif key not in _COLUMN_SET:
                self.reject(key, UNKNOWN_FIELD.name, UNKNOWN_FIELD.explain(key))

    def raw(self, field: str) -> object | None:
        value: object = self._row.get(field)
        if type(value) is str:
            value = value.strip()
            if value not in _MISSING:
                return value
        elif value is not None:
            return value
        if field in _REQUIRED:
            self.reject(field, REQUIRED.name, REQUIRED.explain(field))
        return None

    def integer(self, field: str) -> int | None:
        value = self.raw(field)
        if value is None:
            return None
        parsed = _parse_int(value)
        if parsed is None:
            self.reject(field, INTEGER.name, INTEGER.explain(field, value))
        return parsed

    def within(self, field: str, rule: IntegerRange) -> int | None:
        value = self.integer(field)
        if value is not None and not rule.accepts(value):
            self.reject(field, rule.name, rule.explain(field, value))
            return None
        return value

    def clock_time(self, field: str) -> int | None:
        value = self.integer(field)
        if value is not None and not CLOCK_TIME.accepts(value):
            self.reject(field, CLOCK_TIME.name, CLOCK_TIME.explain(field, value))
            return None
        return value

    def code(self, field: str) -> str | None:
        value = self.raw(field)
        if value is None:
            return None
        if not isinstance(value, str):
            self.reject(field, STRING.name, STRING.explain(field, value))
            return None
        return value.upper()

    def matching(self, field: str, rule: CodeRule) -> str | None:
        value = self.code(field)
        if value is not None and not rule.accepts(value):
            self.reject(field, rule.name, rule.explain(field, value))
            return None
        return value

    def carrier(self) -> str | None:
        value = self.code("carrier")
        if value is not None and not (
            CARRIER_CODE.accepts(value) and value in reference.airlines()
        ):
            self.reject("carrier", CARRIER_CODE.name, CARRIER_CODE.explain("carrier", value))
            return None
        return value

    def utc_datetime(self, field: str) -> datetime | None:
        value = self.raw(field)
        if value is None:
            return None
        parsed = _parse_datetime(value)
        if parsed is None or not UTC_DATETIME.accepts(parsed):
            self.reject(field, UTC_DATETIME.name, UTC_DATETIME.explain(field, value))
            return None
        return parsed.astimezone(UTC)

    def flight_date(self, year: int | None, month: int | None, day: int | None) -> None:
        if year is None or month is None or day is None:
            return
        if not YEAR.accepts(year):
            self.reject("year", YEAR.name, YEAR.explain("year", year))
        elif not MONTH.accepts(month):
            self.reject("month", MONTH.name, MONTH.explain("month", month))
        elif not CALENDAR_DATE.accepts(year, month, day):
            self.reject("day", CALENDAR_DATE.name, CALENDAR_DATE.explain(year, month, day))


def _read_fields(reader: _RowReader) -> dict[str, Any]:
    values: dict[str, Any] = {
        "year": reader.integer("year"),
        "month": reader.integer("month"),
        "day": reader.integer("day"),
        "dep_time": reader.clock_time("dep_time"),
        "sched_dep_time": reader.clock_time("sched_dep_time"),
        "dep_delay": reader.within("dep_delay", DELAY),
        "arr_time": reader.clock_time("arr_time"),
        "sched_arr_time": reader.clock_time("sched_arr_time"),
        "arr_delay": reader.within("arr_delay", DELAY),
        "carrier": reader.carrier(),
        "flight": reader.within("flight", POSITIVE),
        "tailnum": reader.matching("tailnum", TAIL_NUMBER),
        "origin": reader.matching("origin", AIRPORT_CODE),
        "dest": reader.matching("dest", AIRPORT_CODE),
        "air_time": reader.within("air_time", POSITIVE),
        "distance": reader.within("distance", POSITIVE),
        "hour": reader.integer("hour"),
        "minute": reader.integer("minute"),
        "time_hour": reader.utc_datetime("time_hour"),
    }
    reader.flight_date(values["year"], values["month"], values["day"])
    return values


def _check_hour_and_minute(reader: _RowReader, values: Mapping[str, Any]) -> None:
    # A consistent hour and minute are within the model's bounds: those of a clock time.
    scheduled = values["sched_dep_time"]
    if scheduled is None:
        return
    expected = {"hour": scheduled // 100, "minute": scheduled % 100}
    for field, want in expected.items():
        if values[field] is not None and values[field] != want:
            reader.reject(
                field, SCHEDULE.name, SCHEDULE.explain(field, values[field], scheduled=scheduled)
            )


def _check_time_hour(reader: _RowReader, values: Mapping[str, Any]) -> None:
    involved = ("year", "month", "day", "sched_dep_time", "origin", "time_hour")
    if reader.failed.intersection(involved) or any(values[f] is None for f in involved):
        return
    zone = reference.airport_zone(values["origin"])
    if zone is None:  # an origin we do not know: we can only check that time_hour parses
        return
    day = date(values["year"], values["month"], values["day"])
    local_hour = local_datetime(day, values["sched_dep_time"] // 100 * 100, zone)
    if values["time_hour"] not in utc_readings(local_hour):
        reader.reject(
            "time_hour",
            TIME_HOUR_SCHEDULE.name,
            TIME_HOUR_SCHEDULE.explain(
                "time_hour", values["time_hour"], local=local_hour, zone=zone.key
            ),
        )


def _check_cancellation(reader: _RowReader, values: Mapping[str, Any]) -> None:
    if values["dep_time"] is not None or "dep_time" in reader.failed:
        return
    for field in _ACTUALS:
        if values[field] is not None:
            reader.reject(field, CANCELLATION.name, CANCELLATION.explain(field))


def validate_flight(row: Mapping[str, Any]) -> ValidFlight | list[Rejection]:
    """Validate one raw flight row from CSV (strings) or JSON (ints, strings, nulls).

    ``NA``, the empty string and ``None`` are missing values. Every failed rule becomes one
    ``Rejection``; all failures of the row are reported, not just the first.

    Args:
        row: column name to raw value.

    Returns:
        The valid flight, or the reasons the row is rejected.
    """
    reader = _RowReader(row)
    reader.check_columns()
    values = _read_fields(reader)
    _check_hour_and_minute(reader, values)
    _check_time_hour(reader, values)
    _check_cancellation(reader, values)
    if reader.rejections:
        return reader.rejections
    departed = values["dep_time"] is not None
    values["cancelled"] = not departed
    values["diverted"] = departed and (values["arr_time"] is None or values["arr_delay"] is None)
    # The reader has checked every rule of the model, field by field: building it again
    # through validation would check them all a second time.
    return trusted(ValidFlight, values)
