"""``python -m bench [--quick]`` (``make bench``): every figure of the throughput issue, one run.

1. the floor and 2. each stage and the chain, one core (``bench/stage_chain.py``);
3. the local runtime end to end through ``sluice ingest``, with each process's memory,
   and 6. the cost per million records from the calls it counted (``bench/end_to_end.py``);
4. the peer, dlt into DuckDB, on the same rows (``bench/peer.py``);
5. the cold import of every function from the built artifact (``bench/cold_start.py``);
and split's memory on files up to 1 GB (``bench/split_memory.py``).

Each writes ``bench/results/<name>.json``. A full run then writes the table of figures
and targets to ``bench/RESULTS.md`` (which the README links to); ``--quick`` (20,000
rows, a 100 MB split, about a minute) writes ``*_quick.json`` and prints the table only.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cold_start, end_to_end, peer, split_memory, stage_chain
from bench.report import machine, read_result

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "bench" / "RESULTS.md"
QUICK_ROWS = 20_000
PEER_SPEEDUP_TARGET = 2.5


def _mark(met: bool | None) -> str:
    return "—" if met is None else "yes" if met else "**no**"


def table(
    chain: dict[str, Any],
    e2e: dict[str, Any],
    dlt: dict[str, Any] | None,
    cold: dict[str, Any],
    split: dict[str, Any] | None,
) -> str:
    """The figures against their targets, as Markdown."""
    stages = [f for f in cold["functions"].values() if f["kind"] == "stage"]
    api = [f for f in cold["functions"].values() if f["kind"] == "api"]
    worst_stage = max(f["median_ms"] for f in stages)
    worst_api = max(f["median_ms"] for f in api)
    speedup = dlt["wall_seconds"] / e2e["seconds"] if dlt else None
    peaks = {
        role: max(p["peak_rss_mb"] for p in processes)
        for role, processes in e2e["processes"].items()
    }
    memory = ", ".join(f"{role} {mb:,.0f} MB" for role, mb in sorted(peaks.items()))
    rows = [
        (
            f"{e2e['rows']:,} flights end to end, local runtime, CLI upload to `{e2e['status']}`",
            f"{e2e['seconds']} s ({e2e['records_per_second']:,} records/s)"
            + (f"; {speedup:.1f}× faster than the peer" if speedup else "; peer not run"),
            f"≤ 60 s and ≥ {PEER_SPEEDUP_TARGET}× the peer",
            _mark(
                e2e["seconds"] <= 60 and (speedup is None or speedup >= PEER_SPEEDUP_TARGET)
                if e2e["rows"] > QUICK_ROWS
                else None
            ),
        ),
        (
            "The peer: dlt into DuckDB, pydantic contract, same rows",
            f"{dlt['wall_seconds']} s ({dlt['rows_per_second']:,} rows/s), peak "
            f"{dlt['peak_rss_mb']:,} MB"
            if dlt
            else "not installable here",
            "—",
            "—",
        ),
        (
            "Stage chain (validate, transform, enrich, store, with their NDJSON), one core",
            f"{chain['chain_rows_per_second']:,} rows/s = {chain['chain_to_floor']}× the floor "
            f"({chain['floor_rows_per_second']:,} rows/s); the dataset's functions alone "
            f"{chain['functions_only_rows_per_second']:,} rows/s",
            "≥ 30,000 rows/s, ≤ 3.3× the floor",
            _mark(chain["chain_rows_per_second"] >= 30_000 and chain["chain_to_floor"] <= 3.3),
        ),
        (
            "Cold import of each handler from the artifact (python3.12 -B, median of "
            f"{cold['repeat']})",
            f"stage functions ≤ {worst_stage:.0f} ms, API functions ≤ {worst_api:.0f} ms",
            "≤ 300 ms stage, ≤ 500 ms API",
            _mark(cold["all_met"]),
        ),
        (
            "Peak memory of the local runtime (moto, the API and the poller are the server)",
            memory,
            "reported; flat in file size",
            "—",
        ),
        (
            "Split's peak memory, year → synthetic file",
            " → ".join(
                f"{case['file_mb']:,.0f} MB: {case['peak_rss_mb']:,.0f} MB"
                for name, case in split["cases"].items()
                if name != "year_gzip"
            )
            if split
            else "not run",
            "flat in file size",
            "—",
        ),
        (
            "Cost per million flights, us-east-1 list prices, from counted calls",
            f"${e2e['cost']['per_million_records']:.3f}",
            "≤ $0.20",
            _mark(e2e["cost"]["per_million_records"] <= 0.20),
        ),
        (
            "`POST` 1,000 rows → finished, p50 of 10",
            f"{e2e['post_1000_rows_seconds']['p50']} s",
            "≤ 1.5 s",
            _mark(e2e["post_1000_rows_seconds"]["p50"] <= 1.5),
        ),
    ]
    host = machine()
    measured = str(e2e.get("measured_at") or f"{datetime.now(UTC):%Y-%m-%d}")[:10]
    lines = [
        f"Measured {measured} on {host['cpus']} cores ({host['processor']}), "
        f"{host['system']}, Python {host['python']}; `make bench` wrote it.",
        "",
        "| Figure | Measured | Target | Met |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        "By stage, one core: "
        + ", ".join(
            f"{stage} {figures['rows_per_second']:,} rows/s ({figures['to_floor']}×)"
            for stage, figures in chain["stages"].items()
        )
        + ".",
        "",
        "Cost per million by service: "
        + ", ".join(
            f"{service} ${dollars:.4f}"
            for service, dollars in e2e["cost"]["by_service_per_million"].items()
        )
        + f" (prices of {e2e['cost']['prices']['recorded']}, `shared/prices.json`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run every benchmark; write the table (a full run) and print it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, 100 MB split")
    parser.add_argument(
        "--table-only", action="store_true", help="make the table from the last results"
    )
    args = parser.parse_args(argv)
    text = _last_table(args.quick) if args.table_only else _run_all(args.quick)
    if not args.quick:
        TABLE.write_text("# Benchmark results\n\n" + text)
        sys.stdout.write(f"-> {TABLE}\n")
    sys.stdout.write("\n" + text)


def _run_all(quick: bool) -> str:
    rows = ["--rows", str(QUICK_ROWS)] if quick else []
    chain = stage_chain.main(rows)
    e2e = end_to_end.main(rows)
    dlt = peer.main(rows)
    cold = cold_start.main(["--repeat", "5", *(["--quick"] if quick else [])])
    split_memory.main(["--quick"] if quick else [])
    return _last_table(quick, chain, e2e, dlt, cold)


def _last_table(
    quick: bool,
    chain: dict[str, Any] | None = None,
    e2e: dict[str, Any] | None = None,
    dlt: dict[str, Any] | None = None,
    cold: dict[str, Any] | None = None,
) -> str:
    """The table, from these results or the last ones written.

    Raises:
        SystemExit: a benchmark has no result yet.
    """
    suffix = "_quick" if quick else ""

    def last(name: str) -> dict[str, Any]:
        found = read_result(name + suffix)
        if found is None:
            raise SystemExit(f"no bench/results/{name}{suffix}.json yet: run `make bench`")
        return found

    return table(
        chain or last("stage_chain"),
        e2e or last("end_to_end"),
        dlt or read_result("peer" + suffix),
        cold or last("cold_start"),
        read_result("split_memory" + suffix),
    )


if __name__ == "__main__":
    main()
