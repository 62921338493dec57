r"""How batches, rejects, outcomes and errors look in a terminal: rich tables and plain text.

Everything shown comes from the API, and records, file names and error messages are
untrusted: every value goes into a ``rich.text.Text`` (never parsed as markup), with
control characters (terminal escape sequences among them) written out as ``\x1b``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cli.errors import CliError, RequestRefusedError
from shared.models import BatchStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import RenderableType

    from cli.client import RejectView
    from shared.models import BatchView, ErrorInfo

__all__ = [
    "batches_table",
    "error_text",
    "outcome",
    "plain",
    "rejects_table",
    "status_detail",
]

_STATUS_STYLE = {
    BatchStatus.SUCCEEDED: "bold green",
    BatchStatus.COMPLETED_WITH_REJECTS: "bold yellow",
    BatchStatus.FAILED: "bold red",
}
_VALUE_WIDTH = 60


def plain(value: object, style: str = "") -> Text:
    """Return ``value`` as text that no terminal interprets: no markup, no control codes."""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return Text(text, style=style)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def duration_of(view: BatchView) -> float | None:
    """Seconds from the batch's arrival to its end (None while it runs)."""
    if view.finished_at is None:
        return None
    return (view.finished_at - view.received_at).total_seconds()


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def counts_line(view: BatchView) -> Text:
    """``received N   processed N   rejected N   failed N``."""
    counts = view.counts
    return plain(
        f"received {counts.received:,}   processed {counts.processed:,}   "
        f"rejected {counts.rejected:,}   failed {counts.failed:,}"
    )


def error_line(error: ErrorInfo, prefix: str = "error: ") -> Text:
    """A batch's error: type, code, line, chunk and message."""
    where = [f"code {error.code}"] if error.code else []
    if error.line is not None:
        where.append(f"line {error.line}")
    if error.chunk is not None:
        where.append(f"chunk {error.chunk}")
    place = f" ({', '.join(where)})" if where else ""
    return plain(f"{prefix}{error.type}{place}: {error.message}", style="red")


def outcome(view: BatchView) -> RenderableType:
    """The end of ``ingest --wait``: status, counts, duration and the error, if any."""
    head = Text.assemble(
        plain(view.status.value, _STATUS_STYLE.get(view.status, "bold")),
        plain(f"  batch {view.batch_id} ({view.dataset})"),
    )
    counts = counts_line(view)
    took = duration_of(view)
    if took is not None:
        counts.append(f"   in {_seconds(took)}")
    lines: list[RenderableType] = [head, Text("  ").append_text(counts)]
    if view.error is not None:
        lines.append(Text("  ").append_text(error_line(view.error)))
    if view.counts.rejected:
        lines.append(plain(f"  the rejected records: sluice rejects {view.batch_id}"))
    return Group(*lines)


def status_detail(view: BatchView) -> RenderableType:
    """``sluice status``: one batch in detail, then its stages."""
    source = view.source.value
    if view.filename:
        source += f": {view.filename}"
    size = f"{view.size_bytes:,} bytes" if view.size_bytes is not None else "size unknown"
    encoding = f", {view.content_encoding.value}" if view.content_encoding else ""
    chunks = view.chunks
    rows: list[tuple[str, Text]] = [
        ("batch", plain(view.batch_id)),
        ("dataset", plain(view.dataset)),
        ("status", plain(view.status.value, _STATUS_STYLE.get(view.status, "bold"))),
        ("source", plain(f"{source} ({size}, {view.content_type}{encoding})")),
        ("received", plain(_when(view.received_at))),
        ("started", plain(_when(view.started_at))),
        ("finished", plain(_when(view.finished_at))),
        ("counts", counts_line(view)),
    ]
    took = duration_of(view)
    if took is not None:
        rows.append(("duration", plain(_seconds(took))))
    if chunks.total is None:
        read = view.split_bytes_read
        if view.finished_at is not None:
            split = "none: the batch ended before it was split"
        elif read is None:
            split = "not split yet"
        else:
            split = f"splitting: {read:,} bytes read"
        rows.append(("chunks", plain(split)))
    else:
        rows.append(
            (
                "chunks",
                plain(
                    f"{chunks.stored + chunks.failed:,}/{chunks.total:,} done (stored "
                    f"{chunks.stored:,}, failed {chunks.failed:,}, running {chunks.running:,}, "
                    f"pending {chunks.pending:,})"
                ),
            )
        )
    if view.execution_arn:
        rows.append(("execution", plain(view.execution_arn)))
    if view.error is not None:
        rows.append(("error", error_line(view.error, prefix="")))
    width = max(len(name) for name, _ in rows) + 2
    lines: list[RenderableType] = [
        Text.assemble((name.ljust(width), "bold"), value) for name, value in rows
    ]
    if view.stages:
        lines.extend([Text(""), _stages_table(view)])
    return Group(*lines)


def _stages_table(view: BatchView) -> Table:
    table = Table(title="stages", title_justify="left")
    for column in ("stage", "chunks", "in", "out", "rejected", "failed attempts", "caught"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    table.add_column("last error")
    for stage, summary in view.stages.items():
        table.add_row(
            plain(stage.value),
            plain(f"{summary.chunks_done:,}"),
            plain(f"{summary.received:,}"),
            plain(f"{summary.processed:,}"),
            plain(f"{summary.rejected:,}"),
            plain(f"{summary.failed_attempts:,}"),
            plain(f"{summary.chunks_caught:,}"),
            plain(summary.last_error or ""),
        )
    return table


def batches_table(views: Iterable[BatchView]) -> Table:
    """``sluice batches``: one row a batch."""
    table = Table()
    table.add_column("batch", no_wrap=True)
    table.add_column("dataset")
    table.add_column("status")
    for column in ("received", "processed", "rejected", "failed"):
        table.add_column(column, justify="right")
    table.add_column("received at", no_wrap=True)
    for view in views:
        counts = view.counts
        table.add_row(
            plain(view.batch_id),
            plain(view.dataset),
            plain(view.status.value, _STATUS_STYLE.get(view.status, "")),
            plain(f"{counts.received:,}"),
            plain(f"{counts.processed:,}"),
            plain(f"{counts.rejected:,}"),
            plain(f"{counts.failed:,}"),
            plain(_when(view.received_at)),
        )
    return table


def _value(values: dict[str, Any], name: str) -> str:
    if name not in values:
        return ""
    shown = json.dumps(values[name], ensure_ascii=False, default=str)
    return shown if len(shown) <= _VALUE_WIDTH else shown[: _VALUE_WIDTH - 1] + "…"


def rejects_table(rejects: Iterable[RejectView]) -> Table:
    """``sluice rejects``: one row per reason, with its line and the value it is about."""
    table = Table()
    table.add_column("line", justify="right")
    table.add_column("field")
    table.add_column("rule")
    table.add_column("message")
    table.add_column("value")
    for reject in rejects:
        for reason in reject.reasons:
            table.add_row(
                plain(f"{reject.lineage.line}"),
                plain(reason.field),
                plain(reason.rule),
                plain(reason.message),
                plain(_value(reject.values, reason.field)),
            )
    return table


def error_text(err: CliError) -> RenderableType:
    """What a failed command says on stderr."""
    if isinstance(err, RequestRefusedError):
        head = plain(f"refused ({err.status} {err.code}): {err.message}", style="red")
    else:
        head = plain(f"error: {err.message}", style="red")
    lines: list[RenderableType] = [head]
    if isinstance(err, RequestRefusedError):
        lines.extend(
            plain(f"  {json.dumps(detail, ensure_ascii=False, default=str)}")
            for detail in err.details
        )
    if err.hint:
        lines.append(plain(f"  {err.hint}"))
    return Group(*lines)
