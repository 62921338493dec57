"""Benchmark: the local runtime end to end, a file through ``sluice ingest`` to its outcome.

Starts ``python -m devserver`` (moto, the worker processes, the API), then times what a
user does: ``sluice ingest flights.csv --dataset flights --wait``, an upload to S3 and
the whole pipeline, until the batch ends. Reports wall time, records per second, CPU
time and peak memory (``VmHWM``) of every process of the runtime, the AWS calls the
batch made and their cost at list prices (the runtime's meter, ``devserver/usage.py``),
and the time from ``POST /batches`` of 1,000 rows to the batch's end (p50 of 10). The
same code path as a user's: nothing here changes how the runtime works.

``python -m bench.end_to_end [--rows N]`` (default: the whole 2013 year, 336,776 rows).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from bench.report import flights_csv_lines, machine, peak_rss_mb, write_result
from devserver.ports import free_port
from shared.models import TERMINAL_STATUSES

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
POSTS = 10
POST_ROWS = 1_000


class Runtime:
    """A running ``python -m devserver`` and how to reach it."""

    def __init__(self, workdir: Path) -> None:
        self.token = "sluice_bench_" + secrets.token_urlsafe(24)
        port, moto_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{port}"
        self.aws = f"http://127.0.0.1:{moto_port}"
        self.log = workdir / "devserver.log"
        environment = {**os.environ, "SLUICE_API_TOKEN": self.token, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "devserver", "--port", str(port)]
        command += ["--moto-port", str(moto_port), "--state-dir", str(workdir / "state")]
        command += ["--ephemeral"]  # what is measured is the pipeline, not the snapshots
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_healthy()

    def _wait_until_healthy(self, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the devserver exited; see {self.log}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.25)
        raise SystemExit(f"the devserver did not answer within {seconds:.0f} s; see {self.log}")

    def get(self, path: str) -> Any:
        """GET an API path with the admin key; its JSON."""
        answer = requests.get(f"{self.api}{path}", headers=self.headers, timeout=30)
        answer.raise_for_status()
        return answer.json()

    @property
    def headers(self) -> dict[str, str]:
        """The admin key's header."""
        return {"Authorization": f"Bearer {self.token}"}

    def usage(self) -> dict[str, Any]:
        """The runtime's meter: usage so far and its cost."""
        answer = requests.get(f"{self.aws}/_sluice/usage", timeout=30)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
        return document

    def processes(self) -> dict[int, str]:
        """The runtime's processes by pid: the server (moto and the API) and its workers."""
        found = {self.process.pid: "server"}
        for child in _children(self.process.pid):
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            found[child] = "worker" if b"spawn_main" in command else "helper"
        return found

    def stop(self) -> None:
        """Stop the runtime and its workers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    children: list[int] = []
    for task in tasks.iterdir():
        text = (task / "children").read_text().split()
        children += [int(c) for c in text]
    return children


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _subtract(after: Any, before: Any) -> Any:
    """``after - before`` for nested counts; what did not change is left out."""
    if isinstance(after, dict):
        earlier = before if isinstance(before, dict) else {}
        changes = {k: _subtract(v, earlier.get(k, 0)) for k, v in after.items()}
        return {k: v for k, v in changes.items() if v not in (0, 0.0, {})}
    if isinstance(after, int | float):
        return round(after - (before or 0), 3)
    return after


@contextlib.contextmanager
def running(workdir: Path) -> Iterator[Runtime]:
    """A devserver for the duration of the block."""
    runtime = Runtime(workdir)
    try:
        yield runtime
    finally:
        runtime.stop()


def ingest_with_cli(runtime: Runtime, path: Path, log: Path) -> dict[str, Any]:
    """Run ``sluice ingest --wait`` and time it; the batch it made and what it used."""
    processes = runtime.processes()
    cpu_before = {pid: _cpu_seconds(pid) for pid in processes}
    usage_before = runtime.usage()["usage"]
    started = time.perf_counter()
    with log.open("wb") as output:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", "--api-url", runtime.api, "--token", runtime.token]
            + ["ingest", str(path), "--dataset", "flights", "--wait"],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sluice ingest exited {done.returncode}; see {log}")
    usage = _subtract(runtime.usage()["usage"], usage_before)
    batch = runtime.get("/batches?limit=1")["batches"][0]
    by_role: dict[str, list[dict[str, float]]] = {}
    for pid, role in processes.items():
        by_role.setdefault(role, []).append(
            {
                "cpu_seconds": round(_cpu_seconds(pid) - cpu_before[pid], 1),
                "peak_rss_mb": peak_rss_mb(pid),
            }
        )
    return {"seconds": seconds, "batch": batch, "usage": usage, "processes": by_role}


def post_small_batches(runtime: Runtime, body: bytes) -> list[float]:
    """``POST /batches`` of ``body`` then poll to the end, ``POSTS`` times; the seconds each."""
    timings = []
    for attempt in range(POSTS):
        started = time.perf_counter()
        answer = requests.post(
            f"{runtime.api}/batches?dataset=flights",
            data=body,
            headers={
                **runtime.headers,
                "Content-Type": "text/csv",
                "Idempotency-Key": f"bench-{attempt}-{secrets.token_hex(4)}",
            },
            timeout=60,
        )
        answer.raise_for_status()
        batch_id = answer.json()["batch_id"]
        while runtime.get(f"/batches/{batch_id}")["status"] not in TERMINAL_STATUSES:
            time.sleep(0.02)
        timings.append(time.perf_counter() - started)
    return timings


def run(rows: int | None) -> dict[str, Any]:
    """Run the benchmark on the first ``rows`` flights (all by default); its report."""
    from devserver.pricing import cost

    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        workdir = Path(tmp)
        lines = flights_csv_lines(rows)
        source = workdir / "flights.csv"
        source.write_text("".join(lines), encoding="utf-8")
        small = "".join(lines[: POST_ROWS + 1]).encode()
        with running(workdir) as runtime:
            ingested = ingest_with_cli(runtime, source, workdir / "cli.log")
            posts = post_small_batches(runtime, small)
    batch = ingested["batch"]
    records = len(lines) - 1
    counts = batch["counts"]
    priced = cost(ingested["usage"])
    return {
        "rows": records,
        "file_bytes": sum(len(line.encode()) for line in lines),
        "seconds": round(ingested["seconds"], 1),
        "records_per_second": round(records / ingested["seconds"]),
        "status": batch["status"],
        "counts": counts,
        "accounted": counts["processed"] + counts["rejected"] + counts["failed"] == records,
        "chunks": batch.get("chunks"),
        "processes": ingested["processes"],
        "usage": ingested["usage"],
        "cost": {
            "per_batch": round(priced["total"], 5),
            "per_million_records": round(priced["total"] / records * 1_000_000, 4),
            "by_service_per_million": {
                service: round(dollars / records * 1_000_000, 4)
                for service, dollars in priced["by_service"].items()
            },
            "prices": priced["prices"],
        },
        "post_1000_rows_seconds": {
            "p50": round(statistics.median(posts), 2),
            "all": [round(p, 2) for p in posts],
        },
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, write its report and print it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None, help="rows to use (default: all)")
    args = parser.parse_args(argv)
    report = run(args.rows)
    path = write_result("end_to_end" if args.rows is None else "end_to_end_quick", report)
    server = report["processes"].get("server", [{}])[0]
    sys.stdout.write(
        f"end to end: {report['rows']:,} rows {report['status']} in {report['seconds']} s "
        f"({report['records_per_second']:,} records/s), server peak "
        f"{server.get('peak_rss_mb')} MB, ${report['cost']['per_million_records']} per million "
        f"records; POST 1,000 rows p50 {report['post_1000_rows_seconds']['p50']} s -> {path}\n"
    )
    return report


if __name__ == "__main__":
    main()
