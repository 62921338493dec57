"""A batch's counts and status come from its chunks' outcomes, and always add up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.models import ChunkOutcome, FinalizeInput, SplitResult
from stages.finalize import outcome_of


def _summary(outcomes: list[ChunkOutcome], received: int | None = None) -> FinalizeInput:
    total = sum(o.records for o in outcomes) if received is None else received
    return FinalizeInput(
        batch_id="20260101T000000-abcdef",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:sm:x",
        split=SplitResult(
            dataset="flights", source_key="raw/x.csv", records_received=total, chunks=[]
        ),
        outcomes=outcomes,
    )


def _ok(index: int, processed: int, rejected: int = 0) -> ChunkOutcome:
    return ChunkOutcome(
        index=index, records=processed + rejected, processed=processed, rejected=rejected, failed=0
    )


def test_all_processed_is_succeeded():
    outcome = outcome_of(_summary([_ok(0, 10), _ok(1, 5)]))

    assert (outcome.status, outcome.event_type) == ("SUCCEEDED", "BatchSucceeded")
    assert outcome.counts.processed == 15
    assert outcome.error is None


def test_rejects_make_completed_with_rejects():
    outcome = outcome_of(_summary([_ok(0, 10, 2)]))

    assert (outcome.status, outcome.event_type) == (
        "COMPLETED_WITH_REJECTS",
        "BatchCompletedWithRejects",
    )


def test_a_failed_chunk_fails_the_batch_and_says_how_many():
    failed = ChunkOutcome(index=1, records=4, processed=0, rejected=0, failed=4, error="ValueError")

    outcome = outcome_of(_summary([_ok(0, 10), failed]))

    assert outcome.status == "FAILED"
    assert outcome.counts.failed == 4
    assert outcome.error is not None
    assert outcome.error.type == "ValueError"
    assert outcome.error.message.startswith("1 of 2 chunks failed")


def test_records_that_no_outcome_accounts_for_fail_the_batch():
    outcome = outcome_of(_summary([_ok(0, 10)], received=12))

    assert outcome.status == "FAILED"
    assert outcome.error is not None
    assert outcome.error.type == "AccountingMismatch"


chunks = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 50), st.booleans()), min_size=1, max_size=20
)


@given(chunks)
def test_received_always_equals_processed_rejected_and_failed(spec: list[tuple[int, int, bool]]):
    outcomes = [
        ChunkOutcome(index=i, records=p + r, processed=0, rejected=0, failed=p + r, error="E")
        if broken
        else _ok(i, p, r)
        for i, (p, r, broken) in enumerate(spec)
    ]

    counts = outcome_of(_summary(outcomes)).counts

    assert counts.received == counts.processed + counts.rejected + counts.failed
