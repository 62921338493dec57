"""Enrich: a transformed flight joined with the airline, airport, plane and weather tables.

A lookup that finds nothing is a gap on the record, never an error. The stored record is
partitioned by its local scheduled date.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from shared.datasets.flights import reference
from shared.datasets.flights.models import (
    AircraftInfo,
    AirportInfo,
    CarrierInfo,
    EnrichedFlight,
    TransformedFlight,
    WeatherInfo,
)
from shared.models import trusted

if TYPE_CHECKING:
    from datetime import date, datetime

__all__ = ["enrich_flight", "flight_partition_date"]


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


def flight_partition_date(enriched: EnrichedFlight) -> date:
    """Return the date a stored flight is partitioned by: its local scheduled date."""
    return enriched.flight_date
