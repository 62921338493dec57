"""Transform: a valid flight into UTC timestamps, status flags and a delay category.

Departure times are local to the origin, arrival times to the destination; an airport
without a known time zone is a gap, never an error. Actual times are the scheduled time
plus the delay (this handles rollover past midnight); the scheduled arrival is the first
arrival clock time after the scheduled departure (an overnight flight lands the next day).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from shared.datasets.flights import reference
from shared.datasets.flights.models import DelayCategory, TransformedFlight, ValidFlight
from shared.datasets.flights.rules import local_datetime, utc_readings
from shared.models import trusted

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["delay_category", "transform_flight"]


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
    candidates = utc_readings(local_datetime(valid.flight_date, valid.sched_dep_time, zone))
    for candidate in candidates:
        if candidate.replace(minute=0) == valid.time_hour:
            return candidate
    return candidates[0]


def _closest_clock_time(reference_utc: datetime, hhmm: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local clock time ``hhmm`` nearest to ``reference_utc``."""
    local_day = reference_utc.astimezone(zone).date()
    candidates = [
        local_datetime(local_day + timedelta(days=offset), hhmm, zone).astimezone(UTC)
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
        arrival = local_datetime(day, valid.sched_arr_time, zone).astimezone(UTC)
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
    origin_zone = reference.airport_zone(valid.origin)
    dest_zone = reference.airport_zone(valid.dest)
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
