"""The ``sluice`` CLI without a network: a fake HTTP layer plays the API and S3.

The fake answers by method and path with the API's own models, and reads every
streamed body block by block as a real transport does, so the progress callbacks, the
multipart form and an interruption half way through a body all happen for real.
"""

from __future__ import annotations

import gzip
import io
import json
import shlex
import tracemalloc
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from requests_toolbelt.multipart.decoder import MultipartDecoder
from rich.console import Console

from chalicelib.schemas import BatchAccepted, BatchPage, ErrorBody
from chalicelib.uploads import PresignedPost as ServerPresignedPost
from chalicelib.uploads import UploadRequest
from chalicelib.uploads import UploadTicket as ServerUploadTicket
from cli.client import (
    HttpRequest,
    HttpResponse,
    PresignedPost,
    RejectView,
    TransportError,
    UploadTicket,
)
from cli.errors import ExitCode, UsageError
from cli.main import Runtime, cli, resolve_token
from cli.progress import Phase, ProcessingTracker
from cli.render import plain, rejects_table
from cli.source import (
    CSV,
    JSON,
    NDJSON,
    BodyLimits,
    BodyMeasure,
    Route,
    SourceFile,
    choose_route,
    describe_file,
    json_batch_body,
    measure_body,
    media_type_for,
)
from cli.transfer import MultipartBody, ProgressReader
from shared.models import BatchStatus, BatchView, ChunkProgress, ErrorInfo, RecordCounts

API = "http://api.test"
S3_URL = "http://s3.test/raw-bucket"
TOKEN = "unit-token"
BATCH_ID = "key-0123456789abcdef0123456789abcdef01234567"
HEADER = (
    "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,"
    "carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour\n"
)
ROW = "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01T10:00:00Z\n"
T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
LIMIT = BodyLimits().max_body_bytes


# --------------------------------------------------------------------------- the fake HTTP layer


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]
    body: bytes


Answer = HttpResponse | TransportError


@dataclass
class FakeHttp:
    """Answers queued per (method, path); the last answer of a queue repeats."""

    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=lambda: defaultdict(list))
    sent: list[Sent] = field(default_factory=list)
    # path -> bytes after which reading its body raises KeyboardInterrupt (-1: after the end)
    interrupt: dict[str, int] = field(default_factory=dict)

    def on(self, method: str, path: str, *answers: Answer) -> FakeHttp:
        self.answers[(method, path)].extend(answers)
        return self

    def send(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.url).path
        body = self._read(request, path)
        self.sent.append(
            Sent(request.method, path, dict(request.headers), dict(request.params), body)
        )
        queue = self.answers.get((request.method, path))
        if not queue:
            raise AssertionError(f"unexpected {request.method} {path}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, TransportError):
            raise answer
        return answer

    def _read(self, request: HttpRequest, path: str) -> bytes:
        if request.body is None or isinstance(request.body, bytes):
            return request.body or b""
        stop = self.interrupt.get(path)
        out = bytearray()
        while block := request.body.read(65_536):
            out += block
            if stop is not None and 0 <= stop <= len(out):
                raise KeyboardInterrupt
        assert len(out) == len(request.body), "the body's length must be what it sends"
        if stop == -1:
            raise KeyboardInterrupt
        return bytes(out)

    def requests_to(self, method: str, path: str) -> list[Sent]:
        return [s for s in self.sent if s.method == method and s.path == path]


def answer(model: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status=status, body=model.model_dump_json().encode())


def refusal(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):
    return answer(ErrorBody(code=code, message=message, details=details or []), status)


def view(status: BatchStatus = BatchStatus.SUCCEEDED, **changes: Any) -> BatchView:
    finished = status in {
        BatchStatus.SUCCEEDED,
        BatchStatus.COMPLETED_WITH_REJECTS,
        BatchStatus.FAILED,
    }
    fields: dict[str, Any] = {
        "batch_id": BATCH_ID,
        "dataset": "flights",
        "status": status,
        "content_type": CSV,
        "raw_key": f"raw/dataset=flights/{BATCH_ID}.csv",
        "received_at": T0,
        "started_at": T0 + timedelta(seconds=1),
        "finished_at": T0 + timedelta(seconds=4.5) if finished else None,
        "counts": RecordCounts(received=3, processed=3 if finished else 0),
        "chunks": ChunkProgress(total=1, stored=1 if finished else 0),
    }
    fields.update(changes)
    return BatchView(**fields)


def accepted(duplicate: bool = False) -> HttpResponse:
    return answer(
        BatchAccepted(
            batch_id=BATCH_ID,
            status_url=f"/batches/{BATCH_ID}",
            records_received=3,
            duplicate=duplicate,
        ),
        202,
    )


def ticket(*, duplicate: bool = False) -> HttpResponse:
    post = None
    if not duplicate:
        post = ServerPresignedPost(
            url=S3_URL,
            fields={"key": f"uploads/{BATCH_ID}/up-1.csv", "policy": "cG9saWN5", "x-amz-sig": "s"},
            expires_at=T0 + timedelta(minutes=15),
        )
    server = ServerUploadTicket(
        upload_id="up-" + "0" * 32,
        batch_id=BATCH_ID,
        status_url=f"/batches/{BATCH_ID}",
        key=f"uploads/{BATCH_ID}/up-1.csv",
        max_bytes=5 * 1024**3,
        upload=post,
        duplicate=duplicate,
    )
    return answer(server, 200 if duplicate else 201)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(http: FakeHttp, tmp_path: Path, *args: str, clock: FakeClock | None = None) -> Result:
    clock = clock or FakeClock()
    runtime = Runtime(
        transport=lambda: http,
        clock=clock,
        sleep=clock.sleep,
        token_file=tmp_path / "no-such-token",
    )
    env = {"SLUICE_API_URL": API, "SLUICE_API_TOKEN": TOKEN, "COLUMNS": "200"}
    return CliRunner().invoke(cli, list(args), obj=runtime, env=env, catch_exceptions=False)


def csv_file(tmp_path: Path, name: str = "flights.csv", rows: int = 3) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + ROW * rows, encoding="utf-8")
    return path


def big_csv_file(tmp_path: Path, size: int = LIMIT + 1, name: str = "big.csv") -> Path:
    """A valid flights CSV of exactly ``size`` bytes."""
    rows = (size - len(HEADER)) // len(ROW) + 1
    path = tmp_path / name
    path.write_bytes((HEADER + ROW * rows).encode()[:size])
    assert path.stat().st_size == size
    return path


# --------------------------------------------------------------------------- file kinds and routes


@pytest.mark.parametrize(
    ("name", "media_type", "gzipped"),
    [
        ("flights.csv", CSV, False),
        ("FLIGHTS.CSV.GZ", CSV, True),
        ("f.ndjson", NDJSON, False),
        ("f.jsonl.gz", NDJSON, True),
        ("f.json", JSON, False),
        ("f.2013.json.gz", JSON, True),
    ],
)
def test_format_and_gzip_come_from_the_file_name(name: str, media_type: str, gzipped: bool):
    assert media_type_for(name) == (media_type, gzipped)


@pytest.mark.parametrize("name", ["flights.txt", "flights.gz", "flights.csv.zip", "flights"])
def test_unknown_extension_is_a_usage_error(name: str):
    with pytest.raises(UsageError, match=r"\.csv, \.ndjson or \.jsonl"):
        media_type_for(name)


def test_gzip_magic_bytes_mean_gzip_whatever_the_name(tmp_path: Path):
    hidden = tmp_path / "flights.csv"
    hidden.write_bytes(gzip.compress((HEADER + ROW).encode()))
    plain_csv = csv_file(tmp_path, "plain.csv")

    assert describe_file(hidden).gzip is True
    assert describe_file(plain_csv).gzip is False


def test_empty_or_missing_file_is_a_usage_error(tmp_path: Path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(UsageError, match="empty"):
        describe_file(tmp_path / "empty.csv")
    with pytest.raises(UsageError, match="cannot read"):
        describe_file(tmp_path / "missing.csv")


def _source(size: int, media_type: str = CSV, gzipped: bool = False) -> SourceFile:
    return SourceFile(Path("f"), size_bytes=size, media_type=media_type, gzip=gzipped)


@pytest.mark.parametrize(
    ("size", "route"), [(1, Route.BATCHES), (LIMIT, Route.BATCHES), (LIMIT + 1, Route.UPLOAD)]
)
def test_route_follows_the_body_limit(size: int, route: Route):
    assert LIMIT == 5_000_000
    assert choose_route(_source(size), BodyLimits()) is route


def test_a_small_file_with_too_many_records_or_inflating_too_far_is_uploaded():
    limits = BodyLimits()
    many = choose_route(_source(1_000), limits, measure_body_result(records=limits.max_records + 1))
    inflating = choose_route(
        _source(1_000, gzipped=True),
        limits,
        measure_body_result(inflated=limits.max_inflated_bytes + 1),
    )
    fitting = choose_route(_source(1_000), limits, measure_body_result(records=limits.max_records))

    assert (many, inflating, fitting) == (Route.UPLOAD, Route.UPLOAD, Route.BATCHES)


def measure_body_result(records: int = 1, inflated: int = 1) -> BodyMeasure:
    return BodyMeasure(records=records, inflated_bytes=inflated)


def test_measuring_counts_records_and_stops_at_the_inflation_limit(tmp_path: Path):
    csv_path = csv_file(tmp_path, rows=7)
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"x" * 50_000))
    limits = BodyLimits(max_inflated_bytes=10_000)

    assert measure_body(describe_file(csv_path), BodyLimits()).records == 7
    measured = measure_body(describe_file(bomb), limits)
    assert limits.max_inflated_bytes < measured.inflated_bytes <= limits.max_inflated_bytes + 1


def test_json_never_takes_the_upload_path():
    with pytest.raises(UsageError, match="NDJSON"):
        choose_route(_source(LIMIT + 1, JSON), BodyLimits())
    with pytest.raises(UsageError, match="NDJSON"):
        choose_route(_source(10, JSON), BodyLimits(), force_upload=True)


def test_a_json_array_is_wrapped_into_the_batch_object_and_an_object_sent_as_is():
    records = [{"year": 2013}, {"year": 2014}]
    array = json.dumps(records).encode()
    whole = json.dumps({"dataset": "flights", "records": records}).encode()

    assert json.loads(json_batch_body(array, "flights", gzipped=False)) == {
        "dataset": "flights",
        "records": records,
    }
    assert json_batch_body(whole, "flights", gzipped=False) == whole
    zipped = json_batch_body(gzip.compress(array), 'we"ird', gzipped=True)
    assert json.loads(gzip.decompress(zipped))["dataset"] == 'we"ird'
    # The same file makes the same body, so an Idempotency-Key recognises a re-run.
    assert zipped == json_batch_body(gzip.compress(array), 'we"ird', gzipped=True)


# --------------------------------------------------------------------------- POST /batches


def test_exit_codes_are_the_documented_ones():
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "BATCH_FAILED": 1,
        "REFUSED": 2,
        "UNAVAILABLE": 3,
        "INTERRUPTED": 130,
    }


def test_small_csv_goes_through_post_batches_and_wait_prints_the_outcome(tmp_path: Path):
    path = csv_file(tmp_path)
    http = (
        FakeHttp()
        .on("POST", "/batches", accepted())
        .on(
            "GET",
            f"/batches/{BATCH_ID}",
            answer(view(BatchStatus.RUNNING)),
            answer(view(BatchStatus.SUCCEEDED)),
        )
    )

    result = run(http, tmp_path, "ingest", str(path), "--dataset", "flights", "--wait")

    assert result.exit_code == 0, result.output
    (post,) = http.requests_to("POST", "/batches")
    assert post.body == path.read_bytes()
    assert post.params == {"dataset": "flights"}
    assert post.headers["Content-Type"] == "text/csv"
    assert "Content-Encoding" not in post.headers
    assert post.headers["Idempotency-Key"].startswith("cli-")
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "SUCCEEDED" in result.stdout
    assert "received 3   processed 3   rejected 0   failed 0   in 4.5 s" in result.stdout
    assert f"status: {API}/batches/{BATCH_ID}" in result.stdout


def test_gzip_body_is_sent_with_content_encoding(tmp_path: Path):
    path = tmp_path / "flights.csv.gz"
    path.write_bytes(gzip.compress((HEADER + ROW).encode()))
    http = FakeHttp().on("POST", "/batches", accepted())

    result = run(http, tmp_path, "ingest", str(path), "--dataset", "flights")

    assert result.exit_code == 0, result.output
    (post,) = http.requests_to("POST", "/batches")
    assert post.headers["Content-Encoding"] == "gzip"
    assert post.body == path.read_bytes()


def test_without_wait_prints_the_batch_and_its_status_url_and_polls_nothing(tmp_path: Path):
    http = FakeHttp().on("POST", "/batches", accepted())

    result = run(
        http, tmp_path, "ingest", str(csv_file(tmp_path)), "--dataset", "flights",
        "--idempotency-key", "jan-01",
    )  # fmt: skip

    assert result.exit_code == 0
    assert http.requests_to("POST", "/batches")[0].headers["Idempotency-Key"] == "jan-01"
    assert f"batch {BATCH_ID}" in result.stdout
    assert f"{API}/batches/{BATCH_ID}" in result.stdout
    assert not http.requests_to("GET", f"/batches/{BATCH_ID}")


def test_failed_batch_exits_1_with_its_error(tmp_path: Path):
    error = ErrorInfo(
        type="SourceFormatError", code="header_mismatch", line=1, message="the CSV header"
    )
    http = (
        FakeHttp()
        .on("POST", "/batches", accepted())
        .on("GET", f"/batches/{BATCH_ID}", answer(view(BatchStatus.FAILED, error=error)))
    )

    result = run(http, tmp_path, "ingest", str(csv_file(tmp_path)), "--dataset", "f", "--wait")

    assert result.exit_code == 1
    assert "FAILED" in result.stdout
    assert "SourceFormatError (code header_mismatch, line 1): the CSV header" in result.stdout


def test_completed_with_rejects_exits_0_and_points_at_the_rejects(tmp_path: Path):
    done = view(
        BatchStatus.COMPLETED_WITH_REJECTS, counts=RecordCounts(received=3, processed=2, rejected=1)
    )
    http = (
        FakeHttp()
        .on("POST", "/batches", accepted())
        .on("GET", f"/batches/{BATCH_ID}", answer(done))
    )

    result = run(http, tmp_path, "ingest", str(csv_file(tmp_path)), "--dataset", "f", "--wait")

    assert result.exit_code == 0
    assert f"sluice rejects {BATCH_ID}" in result.stdout


def test_refused_request_exits_2_with_the_apis_code_message_and_details(tmp_path: Path):
    http = FakeHttp().on(
        "POST",
        "/batches",
        refusal(422, "unknown_dataset", "unknown dataset 'nope'", [{"known": ["flights"]}]),
    )

    result = run(http, tmp_path, "ingest", str(csv_file(tmp_path)), "--dataset", "nope")

    assert result.exit_code == 2
    assert "refused (422 unknown_dataset): unknown dataset 'nope'" in result.stderr
    assert '{"known": ["flights"]}' in result.stderr


def test_a_refused_key_says_how_to_fix_it(tmp_path: Path):
    http = FakeHttp().on("GET", "/batches", HttpResponse(401, b'{"message": "Unauthorized"}'))

    result = run(http, tmp_path, "batches")

    assert result.exit_code == 2
    assert "SLUICE_API_TOKEN" in result.stderr


def test_unreachable_api_exits_3_naming_the_url_and_make_run(tmp_path: Path):
    http = FakeHttp().on("POST", "/batches", TransportError("connection refused"))

    result = run(http, tmp_path, "ingest", str(csv_file(tmp_path)), "--dataset", "flights")

    assert result.exit_code == 3
    assert API in result.stderr
    assert "make run" in result.stderr


def test_server_error_exits_3(tmp_path: Path):
    http = FakeHttp().on("GET", f"/batches/{BATCH_ID}", HttpResponse(502, b"Bad Gateway"))

    result = run(http, tmp_path, "status", BATCH_ID)

    assert result.exit_code == 3
    assert "502" in result.stderr


def test_unknown_extension_exits_2_before_any_request(tmp_path: Path):
    path = tmp_path / "flights.xlsx"
    path.write_bytes(b"PK")
    http = FakeHttp()

    result = run(http, tmp_path, "ingest", str(path), "--dataset", "flights")

    assert result.exit_code == 2
    assert "cannot tell the format" in result.stderr
    assert http.sent == []


def test_missing_key_is_a_usage_error_saying_how_to_get_one(tmp_path: Path):
    with pytest.raises(UsageError) as raised:
        resolve_token(None, tmp_path / "api-token")
    assert "SLUICE_API_TOKEN" in raised.value.message
    assert "make run" in raised.value.message

    (tmp_path / "api-token").write_text("local-key\n", encoding="utf-8")
    assert resolve_token(None, tmp_path / "api-token") == "local-key"
    assert resolve_token("given", tmp_path / "api-token") == "given"


def test_a_bad_api_url_is_a_usage_error(tmp_path: Path):
    result = run(FakeHttp(), tmp_path, "--api-url", "127.0.0.1:8000", "batches")

    assert result.exit_code == 2
    assert "not an http(s) URL" in result.stderr


# --------------------------------------------------------------------------- uploads


def test_large_file_is_uploaded_with_the_policy_fields_first_and_the_file_last(tmp_path: Path):
    path = big_csv_file(tmp_path)
    http = (
        FakeHttp()
        .on("POST", "/uploads", ticket())
        .on("POST", "/raw-bucket", HttpResponse(204))
        .on("GET", f"/batches/{BATCH_ID}", answer(view()))
    )

    result = run(http, tmp_path, "ingest", str(path), "--dataset", "flights", "--wait")

    assert result.exit_code == 0, result.output
    assert not http.requests_to("POST", "/batches")
    (declared,) = http.requests_to("POST", "/uploads")
    request = UploadRequest.model_validate_json(declared.body)  # the server's own model
    assert (request.filename, request.content_type, request.size_bytes) == (
        "big.csv",
        CSV,
        LIMIT + 1,
    )
    assert request.content_encoding is None
    (form,) = http.requests_to("POST", "/raw-bucket")
    assert "Authorization" not in form.headers, "the API key must never go to S3"
    parts = MultipartDecoder(form.body, form.headers["Content-Type"]).parts
    names = [part.headers[b"Content-Disposition"].decode() for part in parts]
    assert [n.split('name="')[1].split('"')[0] for n in names] == [
        "key",
        "policy",
        "x-amz-sig",
        "file",
    ]
    assert parts[-1].content == path.read_bytes()
    assert "sent through POST /uploads" in result.stdout


def test_bodies_stream_the_file_in_constant_memory(tmp_path: Path):
    path = tmp_path / "large.csv"
    with path.open("wb") as out:
        for _ in range(16):
            out.write(b"x" * (1 << 20))
    size = path.stat().st_size
    reported: list[int] = []

    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            form = MultipartBody(
                {"key": "k", "policy": "p"}, stream, "large.csv", CSV, reported.append
            )
            sent = 0
            while block := form.read(65_536):
                sent += len(block)
        with path.open("rb") as stream:
            reader = ProgressReader(stream, size, reported.append)
            while reader.read(65_536):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert sent == len(form) > size
    assert reader.sent == size == reported[-1]
    assert peak < 4 * (1 << 20), f"peak {peak:,} bytes for a {size:,}-byte file"


def test_gzip_upload_declares_its_encoding(tmp_path: Path):
    path = tmp_path / "flights.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"year": 2013}\n'))
    http = FakeHttp().on("POST", "/uploads", ticket()).on("POST", "/raw-bucket", HttpResponse(204))

    result = run(http, tmp_path, "ingest", str(path), "--dataset", "flights", "--upload")

    assert result.exit_code == 0, result.output
    declared = json.loads(http.requests_to("POST", "/uploads")[0].body)
    assert declared["content_encoding"] == "gzip"
    assert declared["content_type"] == NDJSON


def test_an_upload_that_arrived_before_is_not_sent_again(tmp_path: Path):
    http = (
        FakeHttp()
        .on("POST", "/uploads", ticket(duplicate=True))
        .on("GET", f"/batches/{BATCH_ID}", answer(view()))
    )

    result = run(
        http, tmp_path, "ingest", str(big_csv_file(tmp_path)), "--dataset", "flights",
        "--idempotency-key", "big-1", "--wait",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert not http.requests_to("POST", "/raw-bucket")
    assert "had arrived before" in result.stdout


def test_s3_refusing_the_form_exits_2_with_its_code(tmp_path: Path):
    xml = b"<Error><Code>AccessDenied</Code><Message>Policy expired</Message></Error>"
    http = (
        FakeHttp()
        .on("POST", "/uploads", ticket())
        .on("POST", "/raw-bucket", HttpResponse(403, xml))
    )

    result = run(http, tmp_path, "ingest", str(big_csv_file(tmp_path)), "--dataset", "flights")

    assert result.exit_code == 2
    assert "AccessDenied" in result.stderr
    assert "Policy expired" in result.stderr


def test_interrupted_upload_says_nothing_was_registered_and_how_to_resume(tmp_path: Path):
    path = big_csv_file(tmp_path)
    http = FakeHttp(interrupt={"/raw-bucket": 1_000_000}).on("POST", "/uploads", ticket())

    result = run(http, tmp_path, "ingest", str(path), "--dataset", "flights", "--wait")

    assert result.exit_code == 130
    key = http.requests_to("POST", "/uploads")[0].headers["Idempotency-Key"]
    assert "nothing was registered" in result.stderr
    resume = f"sluice ingest {path} --dataset flights --idempotency-key {key} --wait"
    assert resume in result.stderr

    # Resuming with that key sends the whole file again to a fresh presigned POST.
    again = (
        FakeHttp()
        .on("POST", "/uploads", ticket())
        .on("POST", "/raw-bucket", HttpResponse(204))
        .on("GET", f"/batches/{BATCH_ID}", answer(view()))
    )
    resumed = run(again, tmp_path, *shlex.split(resume)[1:])
    assert resumed.exit_code == 0, resumed.output
    assert again.requests_to("POST", "/uploads")[0].headers["Idempotency-Key"] == key
    form = again.requests_to("POST", "/raw-bucket")[0]
    assert MultipartDecoder(form.body, form.headers["Content-Type"]).parts[-1].content == (
        path.read_bytes()
    )


def test_interrupted_request_body_says_nothing_was_registered(tmp_path: Path):
    path = csv_file(tmp_path, rows=2_000)
    http = FakeHttp(interrupt={"/batches": 70_000})

    result = run(
        http, tmp_path, "ingest", str(path), "--dataset", "my flights", "--idempotency-key", "k-1"
    )

    assert result.exit_code == 130
    assert "nothing was registered" in result.stderr
    assert f"sluice ingest {path} --dataset 'my flights' --idempotency-key k-1" in result.stderr


def test_interrupted_after_the_whole_body_was_sent_does_not_claim_nothing_was_stored(
    tmp_path: Path,
):
    http = FakeHttp(interrupt={"/batches": -1})

    result = run(http, tmp_path, "ingest", str(csv_file(tmp_path)), "--dataset", "flights")

    assert result.exit_code == 130
    assert "nothing was registered" not in result.stderr
    assert "may have registered it" in result.stderr
    assert "--idempotency-key cli-" in result.stderr


def test_wait_rides_out_upload_pending_until_the_batch_appears(tmp_path: Path):
    pending = refusal(404, "upload_pending", "its file has not arrived")
    http = (
        FakeHttp()
        .on("POST", "/uploads", ticket(duplicate=True))
        .on("GET", f"/batches/{BATCH_ID}", pending, pending, answer(view()))
    )

    result = run(http, tmp_path, "ingest", str(big_csv_file(tmp_path)), "--dataset", "f", "--wait")

    assert result.exit_code == 0, result.output
    assert len(http.requests_to("GET", f"/batches/{BATCH_ID}")) == 3


def test_wait_gives_up_on_a_file_the_pipeline_never_picks_up(tmp_path: Path):
    clock = FakeClock()
    http = (
        FakeHttp()
        .on("POST", "/uploads", ticket(duplicate=True))
        .on("GET", f"/batches/{BATCH_ID}", refusal(404, "upload_pending", "not arrived"))
    )

    result = run(
        http, tmp_path, "ingest", str(big_csv_file(tmp_path)), "--dataset", "f", "--wait",
        clock=clock,
    )  # fmt: skip

    assert result.exit_code == 3
    assert "has not picked it up within 60 s" in result.stderr
    assert 60 < clock.now < 65
    assert all(0.5 <= pause <= 1.0 for pause in clock.sleeps)


def test_a_batch_that_does_not_exist_is_refused_not_waited_for(tmp_path: Path):
    http = FakeHttp().on("GET", f"/batches/{BATCH_ID}", refusal(404, "batch_not_found", "no"))

    result = run(http, tmp_path, "status", BATCH_ID)

    assert result.exit_code == 2
    assert "batch_not_found" in result.stderr


def test_the_clients_upload_ticket_mirrors_the_servers():
    for mine, theirs in ((UploadTicket, ServerUploadTicket), (PresignedPost, ServerPresignedPost)):
        assert set(mine.model_fields) <= set(theirs.model_fields)
        for name, info in mine.model_fields.items():
            assert info.annotation == theirs.model_fields[name].annotation or name == "upload"


# --------------------------------------------------------------------------- processing figures


def test_progress_figures_follow_the_batch_from_queue_to_split_to_chunks():
    tracker = ProcessingTracker()
    received = view(BatchStatus.RECEIVED, chunks=ChunkProgress(), started_at=None)
    splitting = view(
        BatchStatus.RUNNING, chunks=ChunkProgress(), split_bytes_read=1_000, size_bytes=5_000
    )
    chunks = view(
        BatchStatus.RUNNING,
        chunks=ChunkProgress(total=10, stored=3, failed=1, running=2, pending=4),
        counts=RecordCounts(received=10_000, processed=3_500, rejected=500),
    )

    queued = tracker.observe(received, 0.0)
    split = tracker.observe(splitting, 1.0)
    working = tracker.observe(chunks, 3.0)

    assert queued.phase is Phase.QUEUED
    assert (split.phase, split.completed, split.total, split.unit) == (
        Phase.SPLITTING,
        1_000,
        5_000,
        "bytes",
    )
    assert (working.phase, working.completed, working.total, working.rejected) == (
        Phase.PROCESSING,
        4,
        10,
        500,
    )
    # 4,000 records done (processed + rejected) in the 3 s since the first snapshot.
    assert working.records_per_second == pytest.approx(4_000 / 3)
    assert working.describe() == "4/10 chunks, 4,000 records, 1,333 rec/s, 500 rejected"
    assert split.describe() == "split has read 1,000 of 5,000 bytes"


def test_records_per_second_follow_the_recent_pace():
    tracker = ProcessingTracker(window_s=10.0)
    done = 0
    figures = None
    for second in range(40):
        done += 100 if second < 20 else 1_000
        snapshot = view(
            BatchStatus.RUNNING,
            chunks=ChunkProgress(total=100),
            counts=RecordCounts(received=100_000, processed=done),
        )
        figures = tracker.observe(snapshot, float(second))
    assert figures is not None
    assert figures.records_per_second == pytest.approx(1_000)


def test_a_finished_batch_fills_the_bar():
    figures = ProcessingTracker().observe(view(BatchStatus.SUCCEEDED), 0.0)

    assert figures.phase is Phase.FINISHED
    assert figures.completed == figures.total == 1


# --------------------------------------------------------------------------- lists and escaping


def _reject(line: int, value: str, message: str) -> dict[str, Any]:
    return {
        "lineage": {"batch_id": BATCH_ID, "line": line, "execution_arn": "arn", "source_key": "k"},
        "values": {"carrier": value},
        "reasons": [{"field": "carrier", "rule": "unknown_carrier", "message": message}],
        "status": "rejected",
    }


def test_rejects_follow_next_pages_up_to_the_limit(tmp_path: Path):
    path = f"/batches/{BATCH_ID}/records"
    page = {"status": "rejected", "records": [_reject(2, "ZZ", "m"), _reject(3, "ZZ", "m")]}
    http = FakeHttp().on(
        "GET",
        path,
        HttpResponse(200, json.dumps({**page, "next": "tok-2"}).encode()),
        HttpResponse(200, json.dumps({**page, "next": "tok-3"}).encode()),
    )

    result = run(http, tmp_path, "rejects", BATCH_ID, "--limit", "3")

    assert result.exit_code == 0, result.output
    first, second = http.requests_to("GET", path)
    assert first.params == {"status": "rejected", "limit": "3"}
    assert second.params == {"status": "rejected", "limit": "1", "next": "tok-2"}
    assert result.stdout.count("unknown_carrier") == 3
    assert "more with --limit" in result.stdout


def test_untrusted_text_is_shown_as_text_never_as_markup_or_escape_codes(tmp_path: Path):
    hostile = "[bold red]ZZ[/] \x1b[2J\x1b]0;pwned\x07"
    records = {
        "status": "rejected",
        "records": [_reject(7, hostile, "[link=x]no[/link] \x1b[31mred")],
    }
    http = (
        FakeHttp()
        .on("GET", f"/batches/{BATCH_ID}/records", HttpResponse(200, json.dumps(records).encode()))
        .on(
            "GET",
            "/batches",
            answer(BatchPage(batches=[view(dataset="[blink]flights[/blink]")])),
        )
    )

    rejected = run(http, tmp_path, "rejects", BATCH_ID)
    listed = run(http, tmp_path, "batches")

    assert rejected.exit_code == listed.exit_code == 0
    assert "\x1b" not in rejected.stdout + listed.stdout
    assert "\x07" not in rejected.stdout
    assert "[link=x]no[/link] \\x1b[31mred" in rejected.stdout
    assert "[bold red]ZZ[/]" in rejected.stdout
    assert "\\u001b[2J" in rejected.stdout  # the value as JSON: its escape, not the byte
    assert "[blink]flights[/blink]" in listed.stdout


def test_plain_renders_markup_literally_even_on_a_color_terminal():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=120)

    console.print(plain("[red]x[/red] \x1b[31m"))

    assert "[red]x[/red]" in out.getvalue()
    assert "\\x1b[31m" in out.getvalue()
    assert "\x1b[31m" not in out.getvalue()


def test_rejects_table_shows_line_field_rule_message_and_value():
    reject = RejectView.model_validate(_reject(12, "ZZ", "carrier 'ZZ' is not a known airline"))
    out = io.StringIO()
    Console(file=out, width=160).print(rejects_table([reject]))

    row = next(line for line in out.getvalue().splitlines() if "unknown_carrier" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == [
        "12",
        "carrier",
        "unknown_carrier",
        "carrier 'ZZ' is not a known airline",
        '"ZZ"',
    ]


def test_batches_lists_every_batch_with_its_counts(tmp_path: Path):
    other = view(
        BatchStatus.FAILED,
        batch_id="20261202T060000-abcdef0123456789",
        counts=RecordCounts(received=1_234, failed=1_234),
    )
    http = FakeHttp().on("GET", "/batches", answer(BatchPage(batches=[view(), other])))

    result = run(http, tmp_path, "batches", "--limit", "5")

    assert result.exit_code == 0
    assert http.sent[0].params == {"limit": "5"}
    line = next(line for line in result.stdout.splitlines() if "20261202T060000" in line)
    assert "FAILED" in line
    assert line.count("1,234") == 2
    assert BATCH_ID in result.stdout


def test_status_shows_counts_chunks_and_the_error(tmp_path: Path):
    error = ErrorInfo(type="ChunkFailedError", message="boom", chunk=3)
    failed = view(
        BatchStatus.FAILED,
        error=error,
        chunks=ChunkProgress(total=5, stored=4, failed=1),
        source="upload",
        filename="flights.csv",
        size_bytes=6_000_000,
    )
    http = FakeHttp().on("GET", f"/batches/{BATCH_ID}", answer(failed))

    result = run(http, tmp_path, "status", BATCH_ID)

    assert result.exit_code == 0
    assert "upload: flights.csv (6,000,000 bytes, text/csv)" in result.stdout
    assert "5/5 done (stored 4, failed 1, running 0, pending 0)" in result.stdout
    assert "ChunkFailedError (chunk 3): boom" in result.stdout
