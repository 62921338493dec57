"""The ``sluice`` console script against the running local runtime, as a data engineer runs it.

Each test runs the installed ``.venv/bin/sluice`` as a subprocess with ``SLUICE_API_URL``
and ``SLUICE_API_TOKEN`` set, then checks its exit code and what it printed against what
the API holds. One file is larger than a request body, so it takes the upload path
through S3 by itself; it is just over the limit, because the local runtime needs a few
minutes for its 54,000 rows.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from shared.settings import Settings
from tests.e2e.conftest import json_of

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalRuntime

pytestmark = pytest.mark.e2e

SLUICE = Path(sys.executable).parent / "sluice"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
MAX_BODY_BYTES: int = Settings.model_fields["max_body_bytes"].default
HTTP_TIMEOUT_S = 30
# A command that waits for a batch; the large upload's gets far longer.
COMMAND_TIMEOUT_S = 180
LARGE_TIMEOUT_S = 1_200
BATCH_LINE = re.compile(r"^batch (?P<batch_id>[A-Za-z0-9-]+): ", re.M)
BROKEN_ROWS = len((DATA_DIR / "flights_broken.csv").read_text(encoding="utf-8").splitlines()) - 1


# --------------------------------------------------------------------------- helpers


def sluice(
    api: str, token: str, cwd: Path, *args: str, timeout: float = COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run the console script with the API's address and key in its environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    environment.update({"SLUICE_API_URL": api, "SLUICE_API_TOKEN": token})
    environment.pop("COLUMNS", None)
    return subprocess.run(
        [str(SLUICE), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def explain(run: subprocess.CompletedProcess[str], runtime: LocalRuntime | None = None) -> str:
    """Everything a failed assertion needs: the command, its exit code and its output."""
    text = (
        f"`{' '.join(run.args)}` exited {run.returncode}\n"
        f"--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    )
    if runtime is not None:
        text += f"\n--- devserver log {runtime.log_path}:\n{runtime.log_tail(30)}"
    return text


def batch_id_of(run: subprocess.CompletedProcess[str]) -> str:
    found = BATCH_LINE.search(run.stdout)
    assert found, f"no `batch <id>:` line in the output\n{explain(run)}"
    return found["batch_id"]


def api_get(api: str, token: str, path: str, **params: str | int) -> Any:
    response = requests.get(
        f"{api}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    return json_of(response)


def all_batch_ids(api: str, token: str) -> list[str]:
    """Every batch id GET /batches lists, following ``next`` through every page."""
    ids: list[str] = []
    params: dict[str, str | int] = {"limit": 200}
    for _ in range(1_000):
        page = api_get(api, token, "/batches", **params)
        ids.extend(batch["batch_id"] for batch in page["batches"])
        if not page["next"]:
            return ids
        params["next"] = page["next"]
    pytest.fail("GET /batches kept answering a next token after 1,000 pages")


def flights_lines() -> tuple[str, list[str]]:
    header, *rows = (DATA_DIR / "flights_1000.csv").read_text(encoding="utf-8").splitlines()
    return header, rows


def csv_over_the_body_limit(path: Path, header: str | None = None) -> int:
    """Write a valid flights CSV just over the body limit (real rows, repeated); return its rows."""
    real_header, rows = flights_lines()
    lines = [header or real_header]
    size = len(lines[0]) + 1
    while size <= MAX_BODY_BYTES:
        row = rows[(len(lines) - 1) % len(rows)]
        lines.append(row)
        size += len(row) + 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size == size > MAX_BODY_BYTES
    return len(lines) - 1


# --------------------------------------------------------------------------- the console script


def test_the_console_script_is_installed_in_the_projects_environment():
    assert SLUICE.is_file(), f"{SLUICE} is missing: `make install` installs it"
    assert os.access(SLUICE, os.X_OK)
    run = subprocess.run(
        [str(SLUICE), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, explain(run)
    for command in ("ingest", "batches", "status", "rejects"):
        assert re.search(rf"^\s+{command}\b", run.stdout, re.M), explain(run)


# --------------------------------------------------------------------------- a small CSV


@pytest.fixture(scope="module")
def mixed_batch(
    api: str, api_token: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """1,000 real flights and the deliberately broken rows, ingested with --wait."""
    folder = tmp_path_factory.mktemp("cli-mixed")
    broken = (DATA_DIR / "flights_broken.csv").read_text(encoding="utf-8").splitlines()[1:]
    header, rows = flights_lines()
    (folder / "flights.csv").write_text("\n".join([header, *rows, *broken]) + "\n", "utf-8")
    run = sluice(api, api_token, folder, "ingest", "flights.csv", "--dataset", "flights", "--wait")
    return batch_id_of(run), run


def test_small_csv_goes_through_post_batches_and_wait_prints_the_counts(
    api: str, api_token: str, mixed_batch: tuple[str, subprocess.CompletedProcess[str]]
):
    batch_id, run = mixed_batch

    assert run.returncode == 0, explain(run)
    assert f"batch {batch_id}: flights.csv" in run.stdout
    assert "sent through POST /batches" in run.stdout
    assert f"status: {api}/batches/{batch_id}" in run.stdout
    assert f"COMPLETED_WITH_REJECTS  batch {batch_id} (flights)" in run.stdout
    total = 1_000 + BROKEN_ROWS
    counts = f"received {total:,}   processed 1,000   rejected {BROKEN_ROWS}   failed 0"
    assert counts in run.stdout, explain(run)
    assert "processing" in run.stderr, "the processing bar goes to stderr"
    batch = api_get(api, api_token, f"/batches/{batch_id}")
    assert batch["source"] == "request"
    assert batch["counts"] == {
        "received": total,
        "processed": 1_000,
        "rejected": BROKEN_ROWS,
        "failed": 0,
    }


def test_batches_status_and_rejects_print_what_the_api_holds(
    api: str,
    api_token: str,
    tmp_path: Path,
    mixed_batch: tuple[str, subprocess.CompletedProcess[str]],
):
    batch_id, _ = mixed_batch

    listed = sluice(api, api_token, tmp_path, "batches", "--limit", "200")
    status = sluice(api, api_token, tmp_path, "status", batch_id)
    rejects = sluice(api, api_token, tmp_path, "rejects", batch_id, "--limit", "200")

    assert listed.returncode == status.returncode == rejects.returncode == 0, explain(listed)
    row = next((line for line in listed.stdout.splitlines() if batch_id in line), None)
    assert row is not None, explain(listed)
    assert "COMPLETED_WITH_REJECTS" in row
    assert f"{1_000 + BROKEN_ROWS:,}" in row

    batch = api_get(api, api_token, f"/batches/{batch_id}")
    assert re.search(r"^status\s+COMPLETED_WITH_REJECTS$", status.stdout, re.M), explain(status)
    total = batch["chunks"]["total"]
    assert f"{total}/{total} done (stored {total}, failed 0" in status.stdout, explain(status)
    for stage in ("validate", "transform", "enrich", "store"):
        assert re.search(rf"^│ {stage}\s+│\s+{total} │", status.stdout, re.M), explain(status)

    page = api_get(api, api_token, f"/batches/{batch_id}/records", status="rejected", limit=200)
    expected = {
        (record["lineage"]["line"], reason["rule"])
        for record in page["records"]
        for reason in record["reasons"]
    }
    assert len(page["records"]) == BROKEN_ROWS
    shown = {
        (int(cells[0]), cells[2])
        for line in rejects.stdout.splitlines()
        if (cells := [cell.strip() for cell in line.strip("│ ").split("│")])[0].isdigit()
    }
    assert shown == expected, explain(rejects)


# --------------------------------------------------------------------------- other formats


def test_gzip_csv_goes_in_both_ways(api: str, api_token: str, tmp_path: Path):
    header, rows = flights_lines()
    path = tmp_path / "flights-200.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([header, *rows[:200]]) + "\n").encode()))

    by_body = sluice(
        api, api_token, tmp_path, "ingest", path.name, "--dataset", "flights", "--wait"
    )
    by_upload = sluice(
        api, api_token, tmp_path, "ingest", path.name, "--dataset", "flights", "--wait", "--upload"
    )

    ways = [(by_body, "POST /batches", "request"), (by_upload, "POST /uploads", "upload")]
    for run, route, source in ways:
        assert run.returncode == 0, explain(run)
        assert f"sent through {route}" in run.stdout
        assert "received 200   processed 200   rejected 0   failed 0" in run.stdout, explain(run)
        batch = api_get(api, api_token, f"/batches/{batch_id_of(run)}")
        assert (batch["source"], batch["content_encoding"]) == (source, "gzip")
    assert batch_id_of(by_body) != batch_id_of(by_upload)


def test_ndjson_without_wait_prints_the_batch_and_its_status_url(
    api: str, api_token: str, tmp_path: Path
):
    record = {
        "year": 2013, "month": 1, "day": 1, "dep_time": 517, "sched_dep_time": 515,
        "dep_delay": 2, "arr_time": 830, "sched_arr_time": 819, "arr_delay": 11,
        "carrier": "UA", "flight": 1545, "tailnum": "N14228", "origin": "EWR", "dest": "IAH",
        "air_time": 227, "distance": 1400, "hour": 5, "minute": 15,
        "time_hour": "2013-01-01T10:00:00Z",
    }  # fmt: skip
    (tmp_path / "three.ndjson").write_text(
        "".join(json.dumps(record) + "\n" for _ in range(3)), "utf-8"
    )
    (tmp_path / "two.json").write_text(json.dumps([record, record]), "utf-8")

    ndjson = sluice(api, api_token, tmp_path, "ingest", "three.ndjson", "--dataset", "flights")
    as_json = sluice(
        api, api_token, tmp_path, "ingest", "two.json", "--dataset", "flights", "--wait"
    )

    assert ndjson.returncode == 0, explain(ndjson)
    batch_id = batch_id_of(ndjson)
    assert f"status: {api}/batches/{batch_id}" in ndjson.stdout
    assert "processing" not in ndjson.stderr, "without --wait nothing is polled"
    assert api_get(api, api_token, f"/batches/{batch_id}")["content_type"] == "application/x-ndjson"
    assert as_json.returncode == 0, explain(as_json)
    assert "received 2   processed 2" in as_json.stdout, explain(as_json)


# --------------------------------------------------------------------------- refusals


def test_refused_requests_exit_2_and_an_unreachable_api_exits_3(
    api: str, api_token: str, tmp_path: Path
):
    header, rows = flights_lines()
    (tmp_path / "f.csv").write_text("\n".join([header, *rows[:5]]) + "\n", "utf-8")
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there

    unknown = sluice(api, api_token, tmp_path, "ingest", "f.csv", "--dataset", "no-such-dataset")
    bad_key = sluice(api, "not-a-key", tmp_path, "batches")
    unreachable = sluice(closed, api_token, tmp_path, "ingest", "f.csv", "--dataset", "flights")

    assert unknown.returncode == 2, explain(unknown)
    assert "unknown_dataset" in unknown.stderr
    assert bad_key.returncode == 2, explain(bad_key)
    assert "403" in bad_key.stderr
    assert unreachable.returncode == 3, explain(unreachable)
    assert closed in unreachable.stderr
    assert "make run" in unreachable.stderr


def test_wrong_header_uploaded_by_size_fails_with_header_mismatch(
    local_runtime: LocalRuntime, api: str, api_token: str, tmp_path: Path
):
    csv_over_the_body_limit(tmp_path / "renamed.csv", header="year,month,day,departed")

    run = sluice(
        api, api_token, tmp_path, "ingest", "renamed.csv", "--dataset", "flights", "--wait"
    )

    assert run.returncode == 1, explain(run, local_runtime)
    assert "sent through POST /uploads" in run.stdout
    assert f"FAILED  batch {batch_id_of(run)}" in run.stdout
    assert "code header_mismatch, line 1" in run.stdout, explain(run)


# --------------------------------------------------------------------------- a large file


def test_large_csv_is_uploaded_by_itself_and_a_rerun_with_its_key_makes_no_new_batch(
    local_runtime: LocalRuntime, api: str, api_token: str, tmp_path: Path
):
    rows = csv_over_the_body_limit(tmp_path / "flights-large.csv")
    key = f"e2e-large-{time.time_ns()}"
    command = ("ingest", "flights-large.csv", "--dataset", "flights", "--idempotency-key", key)

    first = sluice(api, api_token, tmp_path, *command, "--wait", timeout=LARGE_TIMEOUT_S)
    again = sluice(api, api_token, tmp_path, *command, "--wait")

    assert first.returncode == 0, explain(first, local_runtime)
    batch_id = batch_id_of(first)
    assert "sent through POST /uploads" in first.stdout
    assert "uploading flights-large.csv" in first.stderr, "the upload bar goes to stderr"
    assert f"SUCCEEDED  batch {batch_id}" in first.stdout
    assert f"received {rows:,}   processed {rows:,}   rejected 0   failed 0" in first.stdout
    batch = api_get(api, api_token, f"/batches/{batch_id}")
    assert (batch["source"], batch["size_bytes"]) == (
        "upload",
        (tmp_path / command[1]).stat().st_size,
    )

    assert again.returncode == 0, explain(again, local_runtime)
    assert batch_id_of(again) == batch_id
    assert "had arrived before: nothing new was sent" in again.stdout
    assert "uploading" not in again.stderr
    assert all_batch_ids(api, api_token).count(batch_id) == 1
