"""Benchmark: the cold import of every deployed function's handler, as Lambda does it.

Builds the artifact (``infra.package``, as ``make package`` does), unzips it, and for each
function in the built ``sam.json`` imports its handler in a fresh Python 3.12 that sees
only the artifact and what the Lambda runtime provides (``-B -I -S``: nothing written,
nothing from this checkout or its venv), with the deployed environment. Reports the
median of five imports per function against the targets (a stage function 300 ms, the
API's 500 ms) and the ten slowest modules of one import (``-X importtime``).

``python -m bench.cold_start [--repeat N]``; writes ``bench/results/cold_start.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from bench.report import machine, write_result
from infra.package import BUILD, find_lambda_python, lambda_runtime_modules, package
from infra.template import POWERTOOLS_ENVIRONMENT, RUNTIME_ENVIRONMENT
from stages import STATE_FUNCTIONS

TARGET_MS = {"stage": 300.0, "api": 500.0}
# What one import runs: the handler is found as Lambda finds it, and timed in-process
# (the interpreter's own start, the same for every function, is not the artifact's).
_PROBE = """
import importlib, sys, time
artifact, runtime, handler = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [artifact, runtime]
started = time.perf_counter()
module, _, attribute = handler.rpartition(".")
getattr(importlib.import_module(module), attribute)
print((time.perf_counter() - started) * 1000)
"""
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s+(\S.*)$")


def _functions(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in sam["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _environment(task: Path, function: str) -> dict[str, str]:
    return {
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        **POWERTOOLS_ENVIRONMENT,
        **RUNTIME_ENVIRONMENT,
    }


def _import(
    python: Path, task: Path, runtime: Path, handler: str, env: dict[str, str], *flags: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-B", "-I", "-S", *flags, "-c", _PROBE, str(task), str(runtime), handler],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _slowest(stderr: str, count: int = 10) -> list[dict[str, Any]]:
    """The modules whose own import took longest, from ``-X importtime``."""
    rows: list[dict[str, Any]] = []
    for line in stderr.splitlines():
        found = _IMPORTTIME.match(line)
        if found:
            own, cumulative, name = int(found[1]), int(found[2]), found[3].strip()
            rows.append({"module": name, "self_ms": own / 1000, "cumulative_ms": cumulative / 1000})
    return sorted(rows, key=lambda row: float(row["self_ms"]), reverse=True)[:count]


def measure(repeat: int) -> dict[str, Any]:
    """Build the artifact and time every function's cold import ``repeat`` times."""
    built = package("dev", BUILD / "bench-package")
    sam = json.loads(built.template.read_text())
    python = find_lambda_python()
    functions: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sluice-cold-") as scratch:
        task = Path(scratch) / "task"
        with zipfile.ZipFile(built.zip_path) as archive:
            archive.extractall(task)
        runtime = lambda_runtime_modules(Path(scratch) / "runtime")
        for logical_id, properties in sorted(_functions(sam).items()):
            handler = properties["Handler"]
            kind = "stage" if handler.startswith("stages.") else "api"
            env = _environment(task, logical_id)
            times = [
                float(_import(python, task, runtime, handler, env).stdout) for _ in range(repeat)
            ]
            profile = _import(python, task, runtime, handler, env, "-X", "importtime")
            median = statistics.median(times)
            functions[logical_id] = {
                "handler": handler,
                "kind": kind,
                "memory_mb": properties.get("MemorySize"),
                "median_ms": round(median, 1),
                "runs_ms": [round(t, 1) for t in times],
                "target_ms": TARGET_MS[kind],
                "met": median <= TARGET_MS[kind],
                "slowest_modules": _slowest(profile.stderr),
            }
    return {
        "python": str(python),
        "repeat": repeat,
        "zip_bytes": built.zip_bytes,
        "functions": functions,
        "stage_functions": len([f for f in functions.values() if f["kind"] == "stage"]),
        "expected_stage_functions": len(STATE_FUNCTIONS),
        "all_met": all(f["met"] for f in functions.values()),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, write its result and print a line per function."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="imports per function")
    parser.add_argument("--quick", action="store_true", help="write cold_start_quick.json")
    args = parser.parse_args(argv)
    report = measure(args.repeat)
    path = write_result("cold_start_quick" if args.quick else "cold_start", report)
    for name, figures in report["functions"].items():
        mark = "ok" if figures["met"] else "OVER"
        sys.stdout.write(
            f"{name:20} {figures['handler']:38} {figures['median_ms']:7.1f} ms "
            f"(target {figures['target_ms']:.0f}) {mark}\n"
        )
    sys.stdout.write(f"-> {path}\n")
    return report


if __name__ == "__main__":
    main()
