"""The flights models, one per state of the data: a checked row, a transformed, an enriched flight.

Their constraints come from the rule objects of ``rules.py``, the same the fast row reader
checks, so a record the reader lets through is one these models accept when a later stage
parses it again. Every model round-trips through ``model_dump(mode="json")`` /
``model_validate``, since the stages hand records to each other as NDJSON in S3.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    model_validator,
)
from pydantic_core import core_schema

from shared.datasets.flights.rules import (
    AIRPORT_CODE,
    CALENDAR_DATE,
    CARRIER_CODE,
    CLOCK_TIME,
    DELAY,
    MONTH,
    POSITIVE,
    TAIL_NUMBER,
    UTC_DATETIME,
    YEAR,
)

__all__ = [
    "AircraftInfo",
    "AirportCode",
    "AirportInfo",
    "CarrierCode",
    "CarrierInfo",
    "ClockTime",
    "DelayCategory",
    "EnrichedFlight",
    "PositiveInt",
    "TailNumber",
    "TransformedFlight",
    "UtcDatetime",
    "ValidFlight",
    "WeatherInfo",
]


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
        return core_schema.datetime_schema(tz_constraint=UTC_DATETIME.offset_seconds)


ClockTime = Annotated[int, CLOCK_TIME.bounds(), AfterValidator(CLOCK_TIME.check)]
CarrierCode = Annotated[str, CARRIER_CODE.constraint()]
AirportCode = Annotated[str, AIRPORT_CODE.constraint()]
TailNumber = Annotated[str, TAIL_NUMBER.constraint()]
PositiveInt = Annotated[int, POSITIVE.bounds()]
DelayMinutes = Annotated[int, DELAY.bounds()]
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

    year: Annotated[int, YEAR.bounds()]
    month: Annotated[int, MONTH.bounds()]
    day: Annotated[int, CALENDAR_DATE.day_bounds()]
    dep_time: ClockTime | None
    sched_dep_time: ClockTime
    dep_delay: DelayMinutes | None
    arr_time: ClockTime | None
    sched_arr_time: ClockTime
    arr_delay: DelayMinutes | None
    carrier: CarrierCode
    flight: PositiveInt
    tailnum: TailNumber | None
    origin: AirportCode
    dest: AirportCode
    air_time: PositiveInt | None
    distance: PositiveInt
    hour: Annotated[int, CLOCK_TIME.hour_bounds()] | None
    minute: Annotated[int, CLOCK_TIME.minute_bounds()] | None
    time_hour: UtcDatetime
    cancelled: bool
    diverted: bool

    @model_validator(mode="after")
    def _check_calendar_date(self) -> ValidFlight:
        if not CALENDAR_DATE.accepts(self.year, self.month, self.day):
            raise ValueError(CALENDAR_DATE.explain(self.year, self.month, self.day))
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
    dep_delay: DelayMinutes | None
    arr_delay: DelayMinutes | None
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
