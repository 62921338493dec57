"""The limits every raw record is held to before its dataset, and how a reject is kept."""

from __future__ import annotations

import math
from typing import Any

import pytest

from shared.datasets import Rejection
from shared.limits import (
    MAX_KEPT_REASONS,
    MAX_KEPT_VALUE_CHARS,
    kept_reasons,
    kept_values,
    poison_reasons,
)


@pytest.mark.parametrize(
    ("values", "rules"),
    [
        ({"a": "short", "b": 12, "c": 1.5, "d": None, "e": True}, set()),
        ({"n": 10**50}, set()),  # one significant digit: DynamoDB keeps it
        ({"n": int("9" * 39)}, {("n", "unstorable_number")}),
        ({"n": math.inf}, {("n", "unstorable_number")}),
        ({"n": math.nan}, {("n", "unstorable_number")}),
        ({"n": 1e130}, {("n", "unstorable_number")}),
        ({"s": "a\x00b"}, {("s", "nul_character")}),
        ({"s\x00": "ok"}, {("s\x00", "nul_character")}),
        ({"s": "x" * 40_000}, {("s", "field_too_large")}),
        ({f"f{i}": i for i in range(600)}, {("record", "too_many_fields")}),
        ({"deep": [[[[[[[[[["x"]]]]]]]]]]}, {("deep", "nested_too_deep")}),
        ({"list": [{"n": math.inf}]}, {("list", "unstorable_number")}),
    ],
)
def test_a_record_over_a_limit_gets_one_reason_per_limit(values: dict[str, Any], rules: set[Any]):
    assert {(r.field, r.rule) for r in poison_reasons(values)} == rules


def test_a_big_record_of_small_fields_is_too_large_as_a_whole():
    values = {f"f{i}": "x" * 300 for i in range(450)}

    assert [(r.field, r.rule) for r in poison_reasons(values)] == [("record", "record_too_large")]


def test_a_kept_reject_is_bounded_and_marks_every_cut():
    values = {"long": "y" * 5_000, "nul": "a\x00", "big": math.inf, "deep": {"a": {"b": "c"}}}

    kept = kept_values(values)

    assert kept["long"] == "y" * MAX_KEPT_VALUE_CHARS + "… [cut: 5,000 characters]"
    assert kept["nul"] == "a\\u0000"
    assert kept["big"] == "inf"
    assert kept["deep"] == {"a": {"b": "c"}}


def test_a_reject_keeps_its_first_reasons_and_counts_the_rest():
    reasons = [Rejection(field=f"f{i}", rule="unknown_field", message="no") for i in range(120)]

    kept = kept_reasons(reasons)

    assert len(kept) == MAX_KEPT_REASONS
    assert kept[-1].rule == "more_reasons"
    assert kept[-1].message == f"and {120 - MAX_KEPT_REASONS + 1} more reasons"
