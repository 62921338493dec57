"""Benchmark: the peer a data engineer might pick instead, on the same flights.

dlt loads the same rows into DuckDB, validating each against a pydantic contract with
Sluice's rules (``bench/dlt_peer/load.py``), in its own virtualenv from pinned requirements
(``bench/dlt_peer/requirements.txt``, made once under ``build/peer-venv``). Reports wall
time, rows per second and the peak memory of the peer's process. Where the peer cannot
be installed (no network to the package index), it says so and reports no figure.

``python -m bench.peer [--rows N]``; writes ``bench/results/peer.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import flights_csv_lines, machine, write_result

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "bench" / "dlt_peer" / "requirements.txt"
LOADER = ROOT / "bench" / "dlt_peer" / "load.py"
VENV = ROOT / "build" / "peer-venv"


class PeerUnavailable(RuntimeError):
    """The peer could not be installed here; the message says why."""


def ensure_venv() -> Path:
    """The peer's Python, its virtualenv made (once per set of pins) from the requirements.

    Raises:
        PeerUnavailable: the virtualenv or the install failed.
    """
    stamp = VENV / f".installed-{hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]}"
    python = VENV / "bin" / "python"
    if stamp.is_file() and python.is_file():
        return python
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + ["-r", str(REQUIREMENTS)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PeerUnavailable(f"{' '.join(step[:4])} failed: {done.stderr.strip()[-500:]}")
    stamp.touch()
    return python


def measure(rows: int | None) -> dict[str, Any]:
    """Run the peer on the first ``rows`` flights (all by default).

    Raises:
        PeerUnavailable: see ``ensure_venv``; or the peer's run failed.
    """
    python = ensure_venv()
    lines = flights_csv_lines(rows)
    with tempfile.TemporaryDirectory(prefix="sluice-peer-") as scratch:
        work = Path(scratch)
        source = work / "flights.csv"
        source.write_text("".join(lines), encoding="utf-8")
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(work),
            "RUNTIME__LOG_LEVEL": "WARNING",
        }
        # Output to files, not pipes: the run is waited for with wait4 (for its rusage).
        out_path, err_path = work / "out.log", work / "err.log"
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(python), str(LOADER), str(source), str(work)],
                stdout=out_file,
                stderr=err_file,
                env=environment,
            )
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out, err = out_path.read_text(), err_path.read_text()
    if code != 0:
        raise PeerUnavailable(f"the peer's run failed: {err.strip()[-1500:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {
        "peer": "dlt into DuckDB, pydantic contract (bench/dlt_peer/load.py)",
        "versions": _versions(),
        "rows": len(lines) - 1,
        "read": result["read"],
        "loaded": result["loaded"],
        "wall_seconds": round(seconds, 1),
        "rows_per_second": round((len(lines) - 1) / seconds),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "machine": machine(),
    }


def _versions() -> dict[str, str]:
    pins = (line.split("==") for line in REQUIREMENTS.read_text().splitlines() if "==" in line)
    return {name: version for name, version in pins if name in {"dlt", "duckdb", "pydantic"}}


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Run the peer, write its result and print it; say so where it cannot run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None, help="flights to load (default: all)")
    args = parser.parse_args(argv)
    try:
        report = measure(args.rows)
    except PeerUnavailable as err:
        sys.stdout.write(f"peer skipped: {err}\n")
        return None
    path = write_result("peer" if args.rows is None else "peer_quick", report)
    sys.stdout.write(
        f"peer: {report['loaded']:,} of {report['rows']:,} rows in {report['wall_seconds']} s "
        f"({report['rows_per_second']:,} rows/s), peak {report['peak_rss_mb']:,} MB -> {path}\n"
    )
    return report


if __name__ == "__main__":
    main()
