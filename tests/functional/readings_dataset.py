"""A second, tiny dataset: proves a dataset is one module, and gives the tests failure levers.

Sensor readings: a sensor id, a time and a temperature. Two sensor ids are levers for
the failure-path tests: ``EXPLODE`` makes transform raise (a bug in a dataset
function: the chunk fails), ``FLAKY-*`` makes transform raise ``TransientError`` the
first time it sees that sensor in this process (the state machine must retry), and a
sensor in ``BROKEN`` makes transform raise until a test takes it out (a bug fixed: the
chunk is retried).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.datasets import Dataset, Rejection, register
from shared.datasets.base import Display, DisplayColumn, rejections_from_validation_error
from shared.errors import TransientError

if TYPE_CHECKING:
    from collections.abc import Mapping

SITES = {"S1": "Roof", "S2": "Basement"}
_FLAKY_SEEN: set[str] = set()
BROKEN: set[str] = set()


class ValidReading(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,16}$")]
    taken_at: datetime
    celsius: Annotated[float, Field(ge=-90, le=60)]


class TransformedReading(ValidReading):
    fahrenheit: float


class EnrichedReading(TransformedReading):
    site: str | None
    gaps: list[str]


def validate_reading(row: Mapping[str, Any]) -> ValidReading | list[Rejection]:
    try:
        return ValidReading.model_validate(row)
    except ValidationError as err:
        return rejections_from_validation_error(err)


def transform_reading(reading: ValidReading) -> TransformedReading:
    if reading.sensor == "EXPLODE":
        raise ValueError("the EXPLODE sensor breaks transform")
    if reading.sensor in BROKEN:
        raise ValueError(f"the {reading.sensor} sensor is broken (for now)")
    if reading.sensor.startswith("FLAKY") and reading.sensor not in _FLAKY_SEEN:
        _FLAKY_SEEN.add(reading.sensor)
        raise TransientError(f"{reading.sensor} is flaky the first time")
    return TransformedReading(
        **reading.model_dump(), fahrenheit=round(reading.celsius * 9 / 5 + 32, 2)
    )


def enrich_reading(reading: TransformedReading) -> EnrichedReading:
    site = SITES.get(reading.sensor)
    return EnrichedReading(**reading.model_dump(), site=site, gaps=[] if site else ["site"])


READINGS = register(
    Dataset(
        name="readings",
        csv_columns=("sensor", "taken_at", "celsius"),
        valid_model=ValidReading,
        transformed_model=TransformedReading,
        enriched_model=EnrichedReading,
        validate=validate_reading,
        transform=transform_reading,
        enrich=enrich_reading,
        partition_date=lambda r: date(r.taken_at.year, r.taken_at.month, r.taken_at.day),
        filters=("sensor", "site"),
        display=Display(
            record_label="sensor",
            noun="reading",
            columns=(
                DisplayColumn(label="Taken", fields=("taken_at",), format="datetime"),
                DisplayColumn(label="Temperature", fields=("celsius",), detail=("fahrenheit",)),
                DisplayColumn(label="Site", fields=("site",), missing="unknown site"),
                DisplayColumn(label="Gaps", fields=("gaps",), format="list", missing="none"),
            ),
        ),
    )
)


def readings_csv(*sensors: str) -> str:
    """A readings CSV of one row per sensor, an hour apart, all at 20 °C."""
    header = ",".join(READINGS.csv_columns)
    rows = [f"{sensor},2024-05-01T{10 + i:02d}:00:00Z,20" for i, sensor in enumerate(sensors)]
    return "\n".join([header, *rows]) + "\n"
