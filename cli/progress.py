"""Progress bars: the bytes of an upload, then a batch's processing, figured from its snapshots.

``ProcessingTracker`` turns successive ``GET /batches/{id}`` answers into the figures
the processing bar shows: while split is still reading the file (``chunks.total`` is
null) the bytes it has read of the file; then chunks done of chunks in all, the records
per second (from how fast processed + rejected grow) and the rejects so far. It is pure,
so the figures are tested without a terminal; the bars only draw them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from shared.models import TERMINAL_STATUSES, BatchStatus

if TYPE_CHECKING:
    from rich.console import Console

    from shared.models import BatchView

__all__ = [
    "Phase",
    "ProcessingBar",
    "ProcessingFigures",
    "ProcessingTracker",
    "UploadBar",
]

# Records per second over the last few seconds, so the figure follows the pipeline's pace.
RATE_WINDOW_S = 10.0


class Phase(StrEnum):
    """Where a batch is, as the processing bar tells it."""

    WAITING = "waiting for the file"
    QUEUED = "queued"
    SPLITTING = "splitting"
    PROCESSING = "processing"
    FINISHED = "finished"


@dataclass(frozen=True)
class ProcessingFigures:
    """What the processing bar shows at one moment."""

    phase: Phase
    completed: int
    total: int | None
    unit: str
    records_done: int
    records_per_second: float | None
    rejected: int

    def describe(self) -> str:
        """The figures as one line of text (the bar's caption)."""
        if self.phase is Phase.WAITING:
            return "the upload is registered; waiting for the pipeline to pick the file up"
        if self.phase is Phase.QUEUED:
            return "waiting for the pipeline to start"
        if self.unit == "bytes":
            of = f" of {self.total:,}" if self.total is not None else ""
            return f"split has read {self.completed:,}{of} bytes"
        rate = "" if self.records_per_second is None else f", {self.records_per_second:,.0f} rec/s"
        return (
            f"{self.completed:,}/{self.total or 0:,} chunks, {self.records_done:,} records{rate}, "
            f"{self.rejected:,} rejected"
        )


class ProcessingTracker:
    """Figures from successive batch snapshots; keeps the recent ones for the rate."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self._window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def waiting(self) -> ProcessingFigures:
        """The figures while the batch does not exist yet (its upload has not been seen)."""
        return ProcessingFigures(Phase.WAITING, 0, None, "chunks", 0, None, 0)

    def observe(self, view: BatchView, at: float) -> ProcessingFigures:
        """Take the snapshot ``view`` seen at monotonic time ``at`` and return the figures."""
        done = view.counts.processed + view.counts.rejected
        self._samples.append((at, done))
        while len(self._samples) > 2 and at - self._samples[1][0] >= self._window_s:
            self._samples.popleft()
        rate = self._rate()
        chunks = view.chunks
        if view.status in TERMINAL_STATUSES:
            total = chunks.total or 0
            return ProcessingFigures(
                Phase.FINISHED, total, total, "chunks", done, rate, view.counts.rejected
            )
        if chunks.total is None:
            if view.status is BatchStatus.RECEIVED and view.split_bytes_read is None:
                return ProcessingFigures(Phase.QUEUED, 0, None, "chunks", 0, None, 0)
            return ProcessingFigures(
                Phase.SPLITTING,
                view.split_bytes_read or 0,
                view.size_bytes,
                "bytes",
                done,
                None,
                view.counts.rejected,
            )
        return ProcessingFigures(
            Phase.PROCESSING,
            chunks.stored + chunks.failed,
            chunks.total,
            "chunks",
            done,
            rate,
            view.counts.rejected,
        )

    def _rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (first_at, first_done), (last_at, last_done) = self._samples[0], self._samples[-1]
        if last_at <= first_at:
            return None
        return max(last_done - first_done, 0) / (last_at - first_at)


class UploadBar:
    """The bytes of a file on their way: bytes sent, rate, time left."""

    def __init__(self, console: Console, description: str, total: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> UploadBar:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def update(self, sent: int) -> None:
        """Show ``sent`` bytes sent so far."""
        self._progress.update(self._task, completed=sent)

    def resize(self, total: int) -> None:
        """Make ``total`` bytes the whole of the bar."""
        self._progress.update(self._task, total=total)


class ProcessingBar:
    """A batch's processing: bytes split, then chunks done, with records/s and rejects."""

    def __init__(self, console: Console, description: str) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[caption]}", markup=False),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID = self._progress.add_task(description, total=None, caption="")

    def __enter__(self) -> ProcessingBar:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def show(self, figures: ProcessingFigures) -> None:
        """Draw ``figures``: an indeterminate bar until there is a total to fill."""
        total: int | None = figures.total or None
        completed = figures.completed
        if figures.phase is Phase.FINISHED:
            # A batch that failed before it had chunks still ends with a full bar.
            total = completed = max(figures.total or 0, 1)
        self._progress.update(
            self._task, completed=completed, total=total, caption=figures.describe()
        )
