"""A corpus of hostile requests, each with the exact outcome it must get (tests/functional)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.functional.conftest import csv_body, csv_rows

HEADER, ROWS = csv_rows("flights_1000.csv")
NAMES = HEADER.split(",")
GOOD = dict(zip(NAMES, ROWS[0].split(","), strict=True))
ACCEPTED = "accepted"  # 202, then the bad record is rejected on its own; the batch goes on


@dataclass(frozen=True)
class Hostile:
    """One hostile request and what it must get: a status and code, or ACCEPTED."""

    name: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    status: int | str = 400
    code: str | None = "malformed_request"
    rejects: int = 0  # for ACCEPTED: how many records must be rejected


def _json(records: list[object], dataset: object = "flights") -> bytes:
    return json.dumps({"dataset": dataset, "records": records}).encode()


def _raw_json(text: str) -> bytes:
    return text.encode()


JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
NDJSON = {"Content-Type": "application/x-ndjson"}
GOOD_CSV = csv_body(HEADER, ROWS[:3]).encode()
GOOD_LINE = json.dumps(GOOD)

CORPUS: list[Hostile] = [
    # --- malformed and truncated JSON
    Hostile("json-truncated", "POST", "/batches", b'{"dataset": "flights", "records": [', JSON),
    Hostile("json-unclosed-string", "POST", "/batches", b'{"dataset": "fli', JSON),
    Hostile("json-trailing-garbage", "POST", "/batches", _json([GOOD]) + b"}}", JSON),
    Hostile("json-not-an-object", "POST", "/batches", b"[1, 2, 3]", JSON),
    Hostile("json-string", "POST", "/batches", b'"flights"', JSON),
    Hostile("json-null", "POST", "/batches", b"null", JSON),
    Hostile(
        "json-records-not-a-list",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":{}}'),
        JSON,
    ),
    Hostile("json-records-empty", "POST", "/batches", _json([]), JSON),
    Hostile("json-record-not-an-object", "POST", "/batches", _json([1, "x"]), JSON),
    Hostile("json-dataset-a-number", "POST", "/batches", _json([GOOD], dataset=7), JSON),
    Hostile(
        "json-extra-top-level-key",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":[{}],"x":1}'),
        JSON,
    ),
    Hostile("json-single-quotes", "POST", "/batches", b"{'dataset': 'flights'}", JSON),
    Hostile(
        "json-comments", "POST", "/batches", b'{"dataset": "flights", /* hi */ "records": []}', JSON
    ),
    # --- deep nesting, huge numbers, NaN and infinity
    Hostile("json-nesting-100k", "POST", "/batches", b"[" * 100_000 + b"]" * 100_000, JSON),
    Hostile(
        "json-record-nesting-40",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":[{"year":' + "[" * 40 + "1" + "]" * 40 + "}]}"),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "json-number-400-digits",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":[{"year":' + "9" * 400 + "}]}"),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "json-number-1e999",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":[{"year":1e999}]}'),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "json-nan",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":[{"year":NaN}]}'),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "json-infinity",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":[{"year":-Infinity}]}'),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    # --- encodings, BOMs, NUL bytes
    Hostile(
        "json-utf8-bom",
        "POST",
        "/batches",
        "\ufeff".encode() + _json([GOOD]),
        JSON,
        ACCEPTED,
        None,
        0,
    ),
    Hostile(
        "json-utf16",
        "POST",
        "/batches",
        json.dumps({"dataset": "flights", "records": [GOOD]}).encode("utf-16"),
        JSON,
    ),
    Hostile(
        "json-latin1",
        "POST",
        "/batches",
        _json([{**GOOD, "tailnum": "N1"}]).replace(b"N1", b"N\xe9"),
        JSON,
    ),
    Hostile(
        "json-lone-surrogate",
        "POST",
        "/batches",
        _raw_json('{"dataset":"flights","records":[{"tailnum":"\\ud800"}]}'),
        JSON,
        400,
        "malformed_request",
    ),
    Hostile(
        "json-nul-in-value",
        "POST",
        "/batches",
        _json([{**GOOD, "tailnum": "N\u00001"}]),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "json-raw-nul-byte", "POST", "/batches", b'{"dataset":"flights",\x00"records":[]}', JSON
    ),
    Hostile(
        "csv-utf8-bom",
        "POST",
        "/batches?dataset=flights",
        b"\xef\xbb\xbf" + GOOD_CSV,
        CSV,
        ACCEPTED,
        None,
        0,
    ),
    Hostile(
        "csv-utf16",
        "POST",
        "/batches?dataset=flights",
        GOOD_CSV.decode().encode("utf-16"),
        CSV,
        400,
        "malformed_request",
    ),
    Hostile(
        "csv-latin1",
        "POST",
        "/batches?dataset=flights",
        GOOD_CSV.replace(b"N14228", b"N\xe9"),
        CSV,
        400,
        "malformed_request",
    ),
    Hostile(
        "csv-nul-byte",
        "POST",
        "/batches?dataset=flights",
        GOOD_CSV.replace(b"N14228", b"N1\x00"),
        CSV,
        ACCEPTED,
        None,
        1,
    ),
    # --- enormous fields and headers
    Hostile(
        "json-enormous-field",
        "POST",
        "/batches",
        _json([{**GOOD, "tailnum": "N" * 1_000_000}]),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "json-thousands-of-fields",
        "POST",
        "/batches",
        _json([{**GOOD, **{f"x{i}": i for i in range(5_000)}}]),
        JSON,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "csv-enormous-field",
        "POST",
        "/batches?dataset=flights",
        csv_body(HEADER, [ROWS[0].replace("N14228", "N" * 500_000)]).encode(),
        CSV,
        400,
        "malformed_request",
    ),
    Hostile(
        "idempotency-key-10kb",
        "POST",
        "/batches",
        _json([GOOD]),
        {**JSON, "Idempotency-Key": "k" * 10_000},
    ),
    Hostile(
        "idempotency-key-control-chars",
        "POST",
        "/batches",
        _json([GOOD]),
        {**JSON, "Idempotency-Key": "a\tb"},
    ),
    Hostile(
        "content-type-enormous",
        "POST",
        "/batches",
        _json([GOOD]),
        {"Content-Type": "application/json;" + "x=y;" * 2_000},
        ACCEPTED,
        None,
        0,
    ),
    Hostile(
        "content-encoding-unknown",
        "POST",
        "/batches",
        _json([GOOD]),
        {**JSON, "Content-Encoding": "br"},
        415,
        "unsupported_media_type",
    ),
    Hostile(
        "content-encoding-gzip-not-gzip",
        "POST",
        "/batches?dataset=flights",
        GOOD_CSV,
        {**CSV, "Content-Encoding": "gzip"},
    ),
    # --- CSV headers and columns
    Hostile(
        "csv-duplicate-header",
        "POST",
        "/batches?dataset=flights",
        csv_body(HEADER + ",year", [ROWS[0] + ",2013"]).encode(),
        CSV,
    ),
    Hostile(
        "csv-missing-header",
        "POST",
        "/batches?dataset=flights",
        csv_body(",".join(NAMES[:-1]), [ROWS[0]]).encode(),
        CSV,
    ),
    Hostile(
        "csv-no-header-only-data",
        "POST",
        "/batches?dataset=flights",
        ("\n".join(ROWS[:2]) + "\n").encode(),
        CSV,
    ),
    Hostile(
        "csv-thousands-of-columns",
        "POST",
        "/batches?dataset=flights",
        csv_body(
            HEADER + "," + ",".join(f"c{i}" for i in range(3_000)), [ROWS[0] + "," * 3_000]
        ).encode(),
        CSV,
    ),
    Hostile(
        "csv-row-thousands-of-values",
        "POST",
        "/batches?dataset=flights",
        csv_body(HEADER, [ROWS[0] + ",x" * 3_000]).encode(),
        CSV,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "csv-row-too-few-values",
        "POST",
        "/batches?dataset=flights",
        csv_body(HEADER, ["2013,1,1"]).encode(),
        CSV,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "csv-formula-injection",
        "POST",
        "/batches?dataset=flights",
        csv_body(HEADER, [ROWS[0].replace(",UA,", ',=HYPERLINK("http://evil"),')]).encode(),
        CSV,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "csv-unterminated-quote",
        "POST",
        "/batches?dataset=flights",
        csv_body(HEADER, [ROWS[0].replace(",UA,", ',"UA,')]).encode(),
        CSV,
        ACCEPTED,
        None,
        1,
    ),
    Hostile(
        "ndjson-line-not-an-object",
        "POST",
        "/batches?dataset=flights",
        (GOOD_LINE + "\n[1,2]\n").encode(),
        NDJSON,
    ),
    Hostile(
        "ndjson-line-truncated",
        "POST",
        "/batches?dataset=flights",
        (GOOD_LINE + "\n" + GOOD_LINE[:20] + "\n").encode(),
        NDJSON,
    ),
    # --- hostile query strings, page tokens and ids
    Hostile(
        "dataset-path-traversal",
        "POST",
        "/batches?dataset=../../etc/passwd",
        GOOD_CSV,
        CSV,
        422,
        "unknown_dataset",
    ),
    Hostile(
        "dataset-markup",
        "POST",
        "/batches?dataset=%3Cscript%3E",
        GOOD_CSV,
        CSV,
        422,
        "unknown_dataset",
    ),
    Hostile(
        "dataset-enormous",
        "POST",
        "/batches?dataset=" + "f" * 10_000,
        GOOD_CSV,
        CSV,
        422,
        "unknown_dataset",
    ),
    Hostile("list-limit-negative", "GET", "/batches?limit=-1"),
    Hostile("list-limit-huge", "GET", "/batches?limit=99999999999999999999"),
    Hostile("list-limit-text", "GET", "/batches?limit=abc"),
    Hostile("list-token-garbage", "GET", "/batches?next=%%%garbage"),
    Hostile("list-token-base64-json", "GET", "/batches?next=eyJiYXRjaF9pZCI6IHsiUyI6ICJ4In19"),
    Hostile("list-token-enormous", "GET", "/batches?next=" + "A" * 5_000),
    Hostile("list-unknown-param", "GET", "/batches?drop=table"),
    Hostile(
        "batch-id-traversal",
        "GET",
        "/batches/..%2F..%2Fetc%2Fpasswd",
        status=404,
        code="batch_not_found",
    ),
    Hostile(
        "batch-id-markup", "GET", "/batches/%3Cimg%20src%3Dx%3E", status=404, code="batch_not_found"
    ),
    Hostile("batch-id-nul", "GET", "/batches/abc%00def", status=404, code="batch_not_found"),
    Hostile(
        "batch-id-enormous", "GET", "/batches/" + "a" * 5_000, status=404, code="batch_not_found"
    ),
    Hostile(
        "chunk-index-negative",
        "GET",
        "/batches/20260101T000000-0000000000000000/chunks/-1",
        status=404,
        code="batch_not_found",
    ),
    Hostile(
        "record-line-huge",
        "GET",
        "/batches/20260101T000000-0000000000000000/records/999999999999999999999",
        status=404,
        code="batch_not_found",
    ),
    Hostile(
        "records-status-evil",
        "GET",
        "/batches/20260101T000000-0000000000000000/records?status=everything",
        status=404,
        code="batch_not_found",
    ),
    Hostile("partition-date-garbage", "GET", "/datasets/flights/records?date=2013-13-45"),
    Hostile(
        "partition-filter-unknown", "GET", "/datasets/flights/records?date=2013-01-01&password=x"
    ),
    Hostile(
        "retry-body-not-json", "POST", "/batches/20260101T000000-0000000000000000/retry", b"{", JSON
    ),
    Hostile(
        "replay-body-enormous-list",
        "POST",
        "/batches/20260101T000000-0000000000000000/replay",
        json.dumps({"records": [{"line": 1, "values": {}}] * 5_000}).encode(),
        JSON,
    ),
    Hostile("failures-state-evil", "GET", "/failures?state=%27%20OR%201%3D1"),
    Hostile(
        "handle-note-missing",
        "POST",
        "/failures/handle",
        json.dumps({"items": [{"kind": "batch", "id": "x"}]}).encode(),
        JSON,
    ),
    Hostile("dead-letters-queue-evil", "GET", "/dead-letters?queue=../../ingest"),
    Hostile("audit-batch-evil", "GET", "/audit?batch=%3Cscript%3E"),
]

# Odd Authorization headers: each is refused before any view runs.
AUTH: list[tuple[str, dict[str, str], int]] = [
    ("no-header", {}, 401),
    ("empty", {"Authorization": ""}, 403),
    ("bearer-only", {"Authorization": "Bearer"}, 403),
    ("bearer-space", {"Authorization": "Bearer "}, 403),
    ("basic", {"Authorization": "Basic dXNlcjpwYXNz"}, 403),
    ("two-tokens", {"Authorization": "Bearer a b"}, 403),
    ("lowercase-unknown", {"Authorization": "bearer sluice_nope"}, 403),
    ("enormous", {"Authorization": "Bearer " + "x" * 10_000}, 403),
    ("non-ascii", {"Authorization": "Bearer clé"}, 403),
    ("control-chars", {"Authorization": "Bearer \x01\x02"}, 403),
]
