"""A batch's status comes from its chunk ledger's summary, and the summary always adds up."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from shared.ledger import ChunkEntry, ChunkStatus, StageProgress, contribution, summary_delta
from shared.models import (
    BatchStatus,
    BatchView,
    ChunkProgress,
    ChunkRef,
    ErrorInfo,
    RecordCounts,
    StageName,
)
from stages.finalize import outcome_of

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sm:x"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _batch(
    processed: int, rejected: int = 0, failed: int = 0, chunks_failed: int = 0, **extra: int
) -> BatchView:
    received = extra.get("received", processed + rejected + failed)
    total = extra.get("chunks_total", 2)
    return BatchView(
        batch_id="20260101T000000-abcdef",
        dataset="flights",
        status=BatchStatus.RUNNING,
        content_type="text/csv",
        raw_key="raw/x.csv",
        received_at=T0,
        counts=RecordCounts(
            received=received, processed=processed, rejected=rejected, failed=failed
        ),
        chunks=ChunkProgress(
            total=total,
            stored=extra.get("chunks_stored", total - chunks_failed),
            failed=chunks_failed,
        ),
    )


def test_all_processed_is_succeeded():
    outcome = outcome_of(_batch(15), EXECUTION)

    assert (outcome.status, outcome.event_type) == ("SUCCEEDED", "BatchSucceeded")
    assert outcome.counts.processed == 15
    assert outcome.error is None


def test_rejects_make_completed_with_rejects():
    outcome = outcome_of(_batch(10, rejected=2), EXECUTION)

    assert (outcome.status, outcome.event_type) == (
        "COMPLETED_WITH_REJECTS",
        "BatchCompletedWithRejects",
    )


def test_a_failed_chunk_fails_the_batch_and_says_how_many():
    outcome = outcome_of(_batch(10, failed=4, chunks_failed=1), EXECUTION)

    assert outcome.status == "FAILED"
    assert outcome.counts.failed == 4
    assert outcome.error is not None
    assert outcome.error.message.startswith("1 of 2 chunks failed")


def test_records_that_no_chunk_accounts_for_fail_the_batch():
    outcome = outcome_of(_batch(10, received=12), EXECUTION)

    assert outcome.status == "FAILED"
    assert outcome.error is not None
    assert outcome.error.type == "AccountingMismatch"


def test_chunks_that_never_finished_fail_the_batch():
    outcome = outcome_of(_batch(10, chunks_total=3, chunks_stored=2), EXECUTION)

    assert outcome.status == "FAILED"
    assert outcome.error is not None
    assert "2 of 3 chunks finished" in outcome.error.message


# --------------------------------------------------------------------------- the summary

CHUNK = ChunkRef(index=0, key="chunks/b/000000/raw.ndjson", records=10, first_line=2, last_line=11)
_MOVES = st.sampled_from(["validate", "transform", "enrich", "stored", "failed"])


def _move(entry: ChunkEntry, move: str, rejected: int) -> ChunkEntry:
    if move == "stored":
        return entry.model_copy(
            update={
                "status": ChunkStatus.STORED,
                "processed": CHUNK.records - rejected,
                "rejected": rejected,
                "failed": 0,
            }
        )
    if move == "failed":
        return entry.model_copy(
            update={
                "status": ChunkStatus.FAILED,
                "processed": 0,
                "rejected": 0,
                "failed": CHUNK.records,
                "error": ErrorInfo(type="ValueError", message="x"),
            }
        )
    progress = StageProgress(
        received=CHUNK.records,
        processed=CHUNK.records - rejected,
        rejected=rejected,
        started_at=T0,
        finished_at=T0,
    )
    status = entry.status if entry.terminal else ChunkStatus.RUNNING
    stages = {**entry.stages, StageName(move): progress}
    return entry.model_copy(update={"status": status, "stages": stages})


@given(st.lists(st.lists(st.tuples(_MOVES, st.integers(0, 10)), max_size=12), max_size=8))
def test_applying_each_moves_delta_keeps_the_summary_equal_to_the_sum_of_the_chunks(
    histories: list[list[tuple[str, int]]],
):
    summary: dict[str, int] = {}
    finals: list[ChunkEntry] = []
    for history in histories:
        entry: ChunkEntry | None = None
        for move, rejected in history:
            new = _move(entry or ChunkEntry.pending(CHUNK), move, rejected)
            for name, amount in summary_delta(entry, new).items():
                summary[name] = summary.get(name, 0) + amount
            entry = new
        if entry is not None:
            finals.append(entry)

    expected: dict[str, int] = {}
    for entry in finals:
        for name, amount in contribution(entry).items():
            expected[name] = expected.get(name, 0) + amount
    assert {k: v for k, v in summary.items() if v} == {k: v for k, v in expected.items() if v}
    done = [e for e in finals if e.terminal]
    assert summary.get("processed", 0) + summary.get("rejected", 0) + summary.get(
        "failed", 0
    ) == CHUNK.records * len(done)


def test_a_repeated_move_changes_no_counter():
    entry = _move(ChunkEntry.pending(CHUNK), "validate", 2)

    assert summary_delta(entry, entry) == {}
