"""Post many batches at once, note every source line sent, read back everything, check it.

A ``Workload`` posts batches concurrently (JSON, CSV and uploads), retrying a refused or
lost request with the same Idempotency-Key as a careful client would, and records the
lines each batch was sent. Once every batch has reached a final status, ``check`` reads
back what the system holds for each (its counts, its processed records, its rejects,
its failed chunks and the processed objects in S3) and reports every violation of:

- received = processed + rejected + failed, and received = the lines sent;
- every (batch, line) is exactly once among processed, rejected and failed;
- no record is in two places, and none is stored twice (a retried chunk adds nothing);
- nothing is left behind by a failed chunk (its processed objects are withdrawn);
- every batch reaches a final status.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from shared.models import TERMINAL_STATUSES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DATA = Path(__file__).resolve().parents[1] / "data"
_TIMEOUT_S = 30
# Every fault kind at once (shared/faults.py): Lambda errors and timeouts in the stages
# (not a timeout of the accounting path, RecordChunkFailure), throttling and unprocessed
# writes in DynamoDB, slow-downs in S3.
EVERY_FAULT = ",".join(
    [
        "split=error:0.1",
        "validate=error:0.1",
        "transform=error:0.1",
        "transform=throttle:0.05",
        "enrich=timeout:0.05",
        "store=error:0.1",
        "store=timeout:0.05",
        "record_chunk_failure=error:0.1",
        "finalize=error:0.1",
        "finalize=timeout:0.05",
        "mark_failed=error:0.1",
        "dynamodb=throttle:0.05",
        "dynamodb=unprocessed:0.3",
        "s3=slowdown:0.03",
    ]
)


@dataclass
class Sent:
    """One batch as the client sent it: its id, its form and the source lines it holds."""

    batch_id: str
    form: str
    lines: set[int]
    final: dict[str, Any] = field(default_factory=dict)


@dataclass
class Client:
    """The API with an admin key; requests are retried on 5xx and dropped connections."""

    base_url: str
    token: str
    attempts: int = 6
    retried: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        for attempt in range(self.attempts):
            try:
                response = requests.request(
                    method, f"{self.base_url}{path}", headers=headers, timeout=_TIMEOUT_S, **kwargs
                )
            except requests.ConnectionError:
                response = None
            if response is not None and response.status_code < 500:
                return response
            self.retried += 1
            time.sleep(0.2 * 2**attempt)
        raise AssertionError(f"{method} {path} kept failing")

    def get(self, path: str) -> Any:
        response = self.call("GET", path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response.json()


def _flights() -> tuple[str, list[str], list[str]]:
    header, *rows = (DATA / "flights_1000.csv").read_text().splitlines()
    _, *broken = (DATA / "flights_broken.csv").read_text().splitlines()
    return header, rows, broken


def post_batch(client: Client, form: str, number: int, rows: int, seed: int) -> Sent:
    """Post one batch of ``rows`` flights (a few broken ones among them) as ``form``."""
    header, good, broken = _flights()
    picker = random.Random(f"{seed}:{number}")  # noqa: S311
    chosen = [picker.choice(good) for _ in range(rows)]
    for _ in range(max(1, rows // 20)):
        chosen[picker.randrange(rows)] = picker.choice(broken)
    key = f"checker-{seed}-{number}"
    if form == "json":
        names = header.split(",")
        records = [dict(zip(names, row.split(","), strict=False)) for row in chosen]
        response = client.call(
            "POST",
            "/batches",
            json={"dataset": "flights", "records": records},
            headers={"Idempotency-Key": key},
        )
        first = 1
    else:
        body = ("\n".join([header, *chosen]) + "\n").encode()
        first = 2
        if form == "csv":
            response = client.call(
                "POST",
                "/batches?dataset=flights",
                data=body,
                headers={"Content-Type": "text/csv", "Idempotency-Key": key},
            )
        else:
            response = _upload(client, body, key)
    assert response.status_code in {200, 201, 202}, (form, response.status_code, response.text)
    return Sent(
        batch_id=response.json()["batch_id"], form=form, lines=set(range(first, first + rows))
    )


def _upload(client: Client, body: bytes, key: str) -> requests.Response:
    filename = f"{key}.csv"
    declared = {
        "dataset": "flights",
        "filename": filename,
        "content_type": "text/csv",
        "size_bytes": len(body),
    }
    ticket = client.call("POST", "/uploads", json=declared, headers={"Idempotency-Key": key})
    assert ticket.status_code in {200, 201}, ticket.text
    upload = ticket.json().get("upload")
    if upload is not None:
        sent = requests.post(
            upload["url"],
            data=upload["fields"],
            files={"file": (filename, body, "text/csv")},
            timeout=_TIMEOUT_S,
        )
        assert sent.status_code in {200, 204}, sent.text
    return ticket


def run_workload(client: Client, batches: int, rows: int, seed: int) -> list[Sent]:
    """Post ``batches`` batches at once, a third each as JSON, CSV and uploads."""
    forms = ["json", "csv", "upload"]
    with ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(post_batch, client, forms[n % 3], n, rows + n % 7, seed)
            for n in range(batches)
        ]
        return [f.result() for f in futures]


def replay_first_reject(client: Client, parent: Sent) -> Sent | None:
    """Replay the batch's first reject, fixed to a good flight, twice with one key: one child."""
    page = client.get(f"/batches/{parent.batch_id}/records?status=rejected&limit=1")
    if not page["records"]:
        return None
    line = page["records"][0]["line"]
    header, good, _ = _flights()
    values = dict(zip(header.split(","), good[line % len(good)].split(","), strict=True))
    body = {"records": [{"line": line, "values": values}]}
    key = {"Idempotency-Key": f"replay-{parent.batch_id}-{line}"}
    first = client.call("POST", f"/batches/{parent.batch_id}/replay", json=body, headers=key)
    again = client.call("POST", f"/batches/{parent.batch_id}/replay", json=body, headers=key)
    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    assert again.json()["batch_id"] == first.json()["batch_id"], "a second child was made"
    return Sent(batch_id=first.json()["batch_id"], form="replay", lines={1})


def wait_final(client: Client, sent: list[Sent], deadline_s: float) -> list[str]:
    """Wait until every batch is final; return the ids of those that are not by the deadline."""
    deadline = time.monotonic() + deadline_s
    waiting = {s.batch_id: s for s in sent}
    while waiting and time.monotonic() < deadline:
        for batch_id in list(waiting):
            response = client.call("GET", f"/batches/{batch_id}")
            if response.status_code == 200 and response.json()["status"] in TERMINAL_STATUSES:
                waiting.pop(batch_id).final = response.json()
        time.sleep(0.5)
    return sorted(waiting)


def _pages(client: Client, path: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        query = f"&next={token}" if token else ""
        page = client.get(f"{path}{'&' if '?' in path else '?'}limit=200{query}")
        items.extend(page[key])
        token = page.get("next")
        if not token:
            return items


def check(client: Client, sent: list[Sent], s3: S3Client, bucket: str) -> list[str]:
    """Every violation of the accounting invariants, across the batches (empty: none)."""
    problems: list[str] = []
    keys = _processed_keys(s3, bucket)
    for batch in sent:
        problems.extend(_check_batch(client, batch, keys))
    return problems


def _processed_keys(s3: S3Client, bucket: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="processed/")
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _check_batch(client: Client, sent: Sent, keys: list[str]) -> list[str]:
    batch = client.get(f"/batches/{sent.batch_id}")
    sent.final = batch
    where = f"batch {sent.batch_id} ({sent.form}, {batch['status']})"
    if batch["status"] not in TERMINAL_STATUSES:
        return [f"{where}: not final"]
    read = _read_back(client, sent, batch)
    return [
        f"{where}: {problem}"
        for problem in [
            *_count_problems(batch["counts"], sent, read),
            *_place_problems(sent, read),
            *_leftovers(sent, read, keys),
        ]
    ]


@dataclass
class _Held:
    """What the system holds for one batch."""

    processed: list[int]
    rejected: list[int]
    failed: list[int]
    failed_chunks: list[int]


def _read_back(client: Client, sent: Sent, batch: dict[str, Any]) -> _Held:
    base = f"/batches/{sent.batch_id}"
    processed = [
        r["lineage"]["line"] for r in _pages(client, f"{base}/records?status=processed", "records")
    ]
    rejected = [r["line"] for r in _pages(client, f"{base}/records?status=rejected", "records")]
    chunks = [c for c in _pages(client, f"{base}/chunks", "chunks") if c["status"] != "stored"]
    failed = [ln for c in chunks for ln in range(c["first_line"], c["last_line"] + 1)]
    if batch["chunks"]["total"] is None:  # split never finished: every line failed
        failed = sorted(sent.lines)
    return _Held(processed, rejected, failed, [c["index"] for c in chunks])


def _count_problems(counts: dict[str, int], sent: Sent, held: _Held) -> list[str]:
    problems: list[str] = []
    if counts["received"] != len(sent.lines):
        problems.append(f"received {counts['received']}, sent {len(sent.lines)}")
    if counts["received"] != counts["processed"] + counts["rejected"] + counts["failed"]:
        problems.append(f"counts do not add up: {counts}")
    if (len(held.processed), len(held.rejected)) != (counts["processed"], counts["rejected"]):
        problems.append(
            f"counts say {counts}, the store holds {len(held.processed)} processed and "
            f"{len(held.rejected)} rejected"
        )
    return problems


def _place_problems(sent: Sent, held: _Held) -> list[str]:
    problems: list[str] = []
    for name, lines in (("processed", held.processed), ("rejected", held.rejected)):
        if len(lines) != len(set(lines)):
            problems.append(f"a {name} line is there twice")
    places = [set(held.processed), set(held.rejected), set(held.failed)]
    for i, a in enumerate(places):
        for b in places[i + 1 :]:
            if a & b:
                problems.append(f"lines in two places: {sorted(a & b)[:5]}")
    everywhere = set().union(*places)
    if everywhere != sent.lines:
        problems.append(
            f"lines lost {sorted(sent.lines - everywhere)[:5]} "
            f"or invented {sorted(everywhere - sent.lines)[:5]}"
        )
    return problems


def _leftovers(sent: Sent, held: _Held, keys: list[str]) -> list[str]:
    return [
        f"failed chunk {index} left a processed object behind"
        for index in held.failed_chunks
        if any(k.endswith(f"/{sent.batch_id}-{index:06d}.ndjson") for k in keys)
    ]


def summary(sent: list[Sent]) -> dict[str, Any]:
    """What the workload came to: batches by status, records by fate."""
    statuses: dict[str, int] = {}
    records = {"received": 0, "processed": 0, "rejected": 0, "failed": 0}
    for batch in sent:
        statuses[batch.final.get("status", "?")] = (
            statuses.get(batch.final.get("status", "?"), 0) + 1
        )
        for name in records:
            records[name] += batch.final.get("counts", {}).get(name, 0)
    return {"batches": len(sent), "statuses": statuses, "records": records}


def dumps(value: Any) -> str:
    """A compact JSON line (for figures and failure messages)."""
    return json.dumps(value, sort_keys=True)
