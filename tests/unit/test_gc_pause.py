"""Stages pause the cyclic garbage collector while they work, and always turn it back on."""

from __future__ import annotations

import gc

import pytest

from shared.lambda_runtime import cyclic_gc_paused


def test_the_collector_runs_again_only_when_the_last_overlapping_invocation_ends():
    assert gc.isenabled()
    first = cyclic_gc_paused()
    second = cyclic_gc_paused()

    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    paused_while_one_runs = not gc.isenabled()
    second.__exit__(None, None, None)

    assert paused_while_one_runs
    assert gc.isenabled()


def test_a_failed_invocation_turns_the_collector_back_on():
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("stage failed")

    assert gc.isenabled()
