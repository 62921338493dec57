"""The ``sluice`` commands: thin click wrappers over the typed client, the ingest flow and render.

Results go to stdout; progress bars and errors go to stderr, so ``sluice batches > file``
keeps only the table. Every ``CliError`` ends the command with its exit code (see
``cli.errors.ExitCode``); click's own usage errors exit 2 as well.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from rich.console import Console

from cli.client import RequestsTransport, SluiceClient
from cli.errors import CliError, ExitCode, UsageError
from cli.ingest import (
    IngestOptions,
    describe_submitted,
    new_idempotency_key,
    submit,
    wait_for_batch,
)
from cli.render import batches_table, error_text, outcome, plain, rejects_table, status_detail
from shared.models import BatchStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from cli.client import RejectView, Transport
    from shared.models import BatchView

__all__ = ["DEFAULT_API_URL", "TOKEN_FILE", "Runtime", "cli", "main", "resolve_token"]

DEFAULT_API_URL = "http://127.0.0.1:8000"
# Where `make run` writes its admin key, relative to the directory sluice runs in.
TOKEN_FILE = Path(".sluice-local") / "api-token"
# A page of GET /batches or of records holds at most this many (the API's own cap).
_PAGE_MAX = 200
# Output that is not a terminal (a pipe, a file, a CI log) gets this width, not 80.
_PIPE_WIDTH = 200


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=_PIPE_WIDTH)
    return console


@dataclass
class Runtime:
    """What the commands take from the outside world; tests pass their own."""

    transport: Callable[[], Transport] = RequestsTransport
    stdout: Callable[[], Console] = field(default=lambda: _console(stderr=False))
    stderr: Callable[[], Console] = field(default=lambda: _console(stderr=True))
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    token_file: Path = TOKEN_FILE


@dataclass
class _Session:
    runtime: Runtime
    api_url: str
    token: str | None
    out: Console
    err: Console

    def client(self) -> SluiceClient:
        parts = urlsplit(self.api_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise UsageError(
                f"the API URL {self.api_url!r} is not an http(s) URL "
                f"(set SLUICE_API_URL or --api-url, e.g. {DEFAULT_API_URL})"
            )
        token = resolve_token(self.token, self.runtime.token_file)
        return SluiceClient(self.api_url, token, self.runtime.transport())


def resolve_token(given: str | None, token_file: Path) -> str:
    """Return the API key: the one given (option or ``SLUICE_API_TOKEN``), else the local one.

    Raises:
        UsageError: neither is there.
    """
    if given and given.strip():
        return given.strip()
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError:
        token = ""
    if token:
        return token
    raise UsageError(
        f"no API key: set SLUICE_API_TOKEN (or pass --token), or run sluice where {token_file} "
        "is (the repository, while `make run` runs: it writes its admin key there)",
        hint="another key: `make api-key NAME=me SCOPE=admin` locally, or "
        "`python -m chalicelib.api_keys create --name me --scope admin` against a deployment",
    )


class _Group(click.Group):
    """Turns the errors a command raises into its message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as err:
            _stderr(ctx).print(error_text(err))
            raise click.exceptions.Exit(err.exit_code) from err
        except KeyboardInterrupt as err:
            _stderr(ctx).print(plain("interrupted", style="red"))
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from err


def _stderr(ctx: click.Context) -> Console:
    session = ctx.obj
    return session.err if isinstance(session, _Session) else _console(stderr=True)


@click.group(cls=_Group)
@click.option(
    "--api-url",
    envvar="SLUICE_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    show_envvar=True,
    help="The Sluice API's base URL.",
)
@click.option(
    "--token",
    envvar="SLUICE_API_TOKEN",
    show_envvar=True,
    help=f"An API key (default: the contents of {TOKEN_FILE} in the current directory).",
)
@click.pass_context
def cli(ctx: click.Context, api_url: str, token: str | None) -> None:
    """Send files to a Sluice pipeline and follow their batches."""
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime()
    ctx.obj = _Session(runtime, api_url, token, runtime.stdout(), runtime.stderr())


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dataset", required=True, help="The dataset the records belong to.")
@click.option("--wait", is_flag=True, help="Follow the batch until it ends; exit with its outcome.")
@click.option(
    "--idempotency-key",
    help="Resume or repeat an earlier ingest: the same key never makes a second batch "
    "(default: a new key).",
)
@click.option(
    "--upload",
    "force_upload",
    is_flag=True,
    help="Upload through POST /uploads whatever the size (CSV and NDJSON only).",
)
@click.pass_obj
def ingest(
    session: _Session,
    file: Path,
    dataset: str,
    wait: bool,
    idempotency_key: str | None,
    force_upload: bool,
) -> None:
    """Ingest FILE (.csv, .ndjson, .jsonl, .json; optionally .gz).

    Up to 5,000,000 bytes it is sent as one request (POST /batches); a larger file is
    uploaded straight to S3 (POST /uploads). Exit codes: 0 done (SUCCEEDED or
    COMPLETED_WITH_REJECTS, or sent without --wait), 1 FAILED, 2 refused or wrong
    usage, 3 API unreachable, 130 interrupted.
    """
    options = IngestOptions(
        path=file,
        dataset=dataset,
        idempotency_key=idempotency_key or new_idempotency_key(),
        wait=wait,
        force_upload=force_upload,
    )
    client = session.client()
    source, submitted = submit(client, options, session.err)
    for line in describe_submitted(submitted, source, client):
        session.out.print(plain(line))
    if not wait:
        return
    view = wait_for_batch(
        client,
        submitted.batch_id,
        session.err,
        clock=session.runtime.clock,
        sleep=session.runtime.sleep,
    )
    session.out.print(outcome(view))
    if view.status is BatchStatus.FAILED:
        raise click.exceptions.Exit(ExitCode.BATCH_FAILED)


@cli.command()
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many."
)
@click.pass_obj
def batches(session: _Session, limit: int) -> None:
    """List recent batches, newest first."""
    client = session.client()
    views: list[BatchView] = []
    token: str | None = None
    while len(views) < limit:
        page = client.batches(min(limit - len(views), _PAGE_MAX), token)
        views.extend(page.batches)
        token = page.next
        if not token or not page.batches:
            break
    if not views:
        session.out.print(plain("no batches yet"))
        return
    session.out.print(batches_table(views[:limit]))


@cli.command()
@click.argument("batch_id")
@click.pass_obj
def status(session: _Session, batch_id: str) -> None:
    """Show one batch: status, source, counts, chunks, stages and error."""
    session.out.print(status_detail(session.client().batch(batch_id)))


@cli.command()
@click.argument("batch_id")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many records."
)
@click.pass_obj
def rejects(session: _Session, batch_id: str, limit: int) -> None:
    """Show a batch's rejected records: their line and every reason (field, rule, message)."""
    client = session.client()
    found: list[RejectView] = []
    token: str | None = None
    while len(found) < limit:
        page, token = client.rejects(batch_id, min(limit - len(found), _PAGE_MAX), token)
        found.extend(page)
        if not token or not page:
            break
    if not found:
        session.out.print(plain(f"batch {batch_id} has no rejected records"))
        return
    session.out.print(rejects_table(found[:limit]))
    if token:
        session.out.print(plain(f"(the first {limit:,}; more with --limit)"))


def main() -> None:
    """Run ``sluice`` (the console script's entry point)."""
    cli(prog_name="sluice")


if __name__ == "__main__":
    main()
