"""``sluice ingest``: send a file the way its size calls for, then follow its batch to the end.

Every ingest carries an ``Idempotency-Key`` (generated when none is given), which fixes
the batch id. That is what makes an interruption harmless: an interrupted request body
is never stored, an interrupted presigned POST leaves no object, and the batch only
exists once the whole file has arrived, so running the same command with the same key
sends the file again (``POST /uploads`` signs a fresh POST for the same object) or, if
it did arrive, finds its batch instead of making a second one.
"""

from __future__ import annotations

import io
import shlex
import time
import uuid
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, TypeVar

from cli.errors import ApiUnavailableError, CliError, ExitCode, UploadPendingError, UsageError
from cli.progress import ProcessingBar, ProcessingTracker, UploadBar
from cli.source import (
    JSON,
    BodyLimits,
    Route,
    SourceFile,
    choose_route,
    describe_file,
    json_batch_body,
    measure_body,
)
from cli.transfer import MultipartBody, ProgressReader
from shared.models import TERMINAL_STATUSES

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rich.console import Console

    from cli.client import SluiceClient
    from cli.transfer import Body
    from shared.models import BatchView

__all__ = [
    "IngestInterruptedError",
    "IngestOptions",
    "Submitted",
    "WaitInterruptedError",
    "describe_submitted",
    "new_idempotency_key",
    "plan_route",
    "resume_command",
    "submit",
    "wait_for_batch",
]

T = TypeVar("T")
# How long a batch may stay "upload_pending" after its file was sent before we give up.
PENDING_TIMEOUT_S = 60.0
# Polls that may fail in a row (a restarting API, a dropped connection) before we give up.
MAX_POLL_FAILURES = 5


def new_idempotency_key() -> str:
    """A fresh key for an ingest that was given none."""
    return f"cli-{uuid.uuid4()}"


@dataclass(frozen=True)
class IngestOptions:
    """What ``sluice ingest`` was asked to do."""

    path: Path
    dataset: str
    idempotency_key: str
    wait: bool = False
    force_upload: bool = False
    limits: BodyLimits = field(default_factory=BodyLimits)


@dataclass(frozen=True)
class Submitted:
    """A file the API has: its batch, and whether an earlier run with the key had sent it."""

    batch_id: str
    status_url: str
    route: Route
    duplicate: bool


def resume_command(options: IngestOptions) -> str:
    """The command that resumes an interrupted ingest: the same file, dataset and key."""
    words = [
        "sluice",
        "ingest",
        str(options.path),
        "--dataset",
        options.dataset,
        "--idempotency-key",
        options.idempotency_key,
    ]
    if options.force_upload:
        words.append("--upload")
    if options.wait:
        words.append("--wait")
    return shlex.join(words)


class IngestInterruptedError(CliError):
    """Ctrl-C while the file was on its way."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, options: IngestOptions, route: Route, *, all_sent: bool) -> None:
        if all_sent:
            message = (
                "interrupted after the whole file was sent: the API may have registered it. "
                "Running the command again is safe: with the same Idempotency-Key it finds "
                "that batch instead of making a second one"
            )
        elif route is Route.UPLOAD:
            message = (
                "interrupted: nothing was registered (an interrupted upload creates no object, "
                "and the batch only exists once the whole file has arrived)"
            )
        else:
            message = (
                "interrupted: nothing was registered (the API stores a batch only once it has "
                "the whole request body)"
            )
        super().__init__(message, hint=f"to resume: {resume_command(options)}")


class WaitInterruptedError(CliError):
    """Ctrl-C while waiting: the batch goes on without us."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, batch_id: str) -> None:
        super().__init__(
            f"stopped waiting; batch {batch_id} goes on",
            hint=f"follow it with: sluice status {batch_id}",
        )


def plan_route(source: SourceFile, options: IngestOptions) -> Route:
    """Pick the way in for ``source`` (measuring it only when its byte size leaves a doubt).

    Raises:
        UsageError: a JSON file too large for a request body.
    """
    measure = None
    small = source.size_bytes <= options.limits.max_body_bytes
    if small and source.media_type != JSON and not options.force_upload:
        measure = measure_body(source, options.limits)
    return choose_route(source, options.limits, measure, force_upload=options.force_upload)


def submit(
    client: SluiceClient, options: IngestOptions, progress_console: Console
) -> tuple[SourceFile, Submitted]:
    """Send the file (``POST /batches`` or ``POST /uploads`` + S3) with an upload bar.

    Raises:
        UsageError: the file cannot be read or is of an unknown kind.
        IngestInterruptedError: Ctrl-C before the API had the file.
        RequestRefusedError: the API or S3 refused the file.
        ApiUnavailableError: the API or S3 could not be reached.
    """
    source = describe_file(options.path)
    route = plan_route(source, options)
    if route is Route.BATCHES:
        return source, _post_batch(client, source, options, progress_console)
    return source, _upload(client, source, options, progress_console)


def _post_batch(
    client: SluiceClient, source: SourceFile, options: IngestOptions, console: Console
) -> Submitted:
    with _opened(source) as file:
        stream: IO[bytes] = file
        length = source.size_bytes
        if source.media_type == JSON:
            # At most a request body's worth: JSON never takes the upload path.
            data = json_batch_body(file.read(), options.dataset, gzipped=source.gzip)
            stream, length = io.BytesIO(data), len(data)
        with UploadBar(console, f"sending {source.filename}", length) as bar:
            body = ProgressReader(stream, length, bar.update)
            accepted = _interruptible(
                lambda: client.post_batch(
                    body,
                    dataset=options.dataset,
                    media_type=source.media_type,
                    gzip=source.gzip,
                    idempotency_key=options.idempotency_key,
                ),
                options,
                Route.BATCHES,
                body,
            )
    return Submitted(accepted.batch_id, accepted.status_url, Route.BATCHES, accepted.duplicate)


def _upload(
    client: SluiceClient, source: SourceFile, options: IngestOptions, console: Console
) -> Submitted:
    ticket = _interruptible(
        lambda: client.request_upload(
            dataset=options.dataset,
            filename=source.filename,
            media_type=source.media_type,
            size_bytes=source.size_bytes,
            gzip=source.gzip,
            idempotency_key=options.idempotency_key,
        ),
        options,
        Route.UPLOAD,
        None,
    )
    post = ticket.upload
    if post is not None:
        with (
            _opened(source) as stream,
            UploadBar(console, f"uploading {source.filename}", source.size_bytes) as bar,
        ):
            form = MultipartBody(
                post.fields, stream, source.filename, source.media_type, bar.update
            )
            # The bar counts the whole form: the file and its policy fields (a few hundred bytes).
            bar.resize(len(form))
            _interruptible(
                lambda: client.send_upload(post, form, form.content_type),
                options,
                Route.UPLOAD,
                form,
            )
    return Submitted(ticket.batch_id, ticket.status_url, Route.UPLOAD, ticket.duplicate)


def _opened(source: SourceFile) -> io.BufferedReader:
    try:
        return source.path.open("rb")
    except OSError as err:
        raise UsageError(f"cannot read {str(source.path)!r}: {err.strerror or err}") from err


def _interruptible(
    call: Callable[[], T], options: IngestOptions, route: Route, body: Body | None
) -> T:
    """Run ``call``; turn Ctrl-C into the error that says how to resume."""
    try:
        return call()
    except KeyboardInterrupt as err:
        all_sent = body is not None and body.sent >= len(body)
        raise IngestInterruptedError(options, route, all_sent=all_sent) from err


def describe_submitted(submitted: Submitted, source: SourceFile, client: SluiceClient) -> list[str]:
    """What ``ingest`` says once the API has the file: the batch and where to follow it."""
    if submitted.duplicate:
        what = (
            "this Idempotency-Key's file had arrived before: nothing new was sent"
            if submitted.route is Route.UPLOAD
            else "this Idempotency-Key's batch was received before: no new batch"
        )
    else:
        what = f"{source.filename} ({source.size_bytes:,} bytes) sent through {submitted.route}"
    return [f"batch {submitted.batch_id}: {what}", f"status: {client.url(submitted.status_url)}"]


def wait_for_batch(
    client: SluiceClient,
    batch_id: str,
    console: Console,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    pending_timeout_s: float = PENDING_TIMEOUT_S,
) -> BatchView:
    """Poll the batch until it is terminal, drawing the processing bar; return its last view.

    Raises:
        ApiUnavailableError: the API stopped answering, or an uploaded file's batch never
            appeared within ``pending_timeout_s``.
        RequestRefusedError: the API refused to show the batch (unknown, not allowed).
        WaitInterruptedError: Ctrl-C.
    """
    tracker = ProcessingTracker()
    start = clock()
    failures = 0
    with ProcessingBar(console, "processing") as bar:
        try:
            while True:
                try:
                    view = client.batch(batch_id)
                except UploadPendingError as err:
                    if clock() - start > pending_timeout_s:
                        raise ApiUnavailableError(
                            f"batch {batch_id}'s file was sent, but the pipeline has not "
                            f"picked it up within {pending_timeout_s:.0f} s",
                            hint=f"look again later: sluice status {batch_id}",
                        ) from err
                    bar.show(tracker.waiting())
                except ApiUnavailableError:
                    failures += 1
                    if failures >= MAX_POLL_FAILURES:
                        raise
                else:
                    failures = 0
                    bar.show(tracker.observe(view, clock()))
                    if view.status in TERMINAL_STATUSES:
                        return view
                sleep(0.5 if clock() - start < 30 else 1.0)
        except KeyboardInterrupt as err:
            raise WaitInterruptedError(batch_id) from err
