"""An execution as the dashboard draws it: the ASL plus what happened to each state.

Step Functions' history is a flat list of events; each event links to the one before
it in its own thread (``previousEventId``). Walking those links back to the nearest
``*StateEntered`` event tells which state an event belongs to. The history is fetched
on demand for one execution only (its API refills at 20 calls a second).

The chunks run in a Distributed Map, whose children are executions of their own: the
batch's history holds the Map Run (its counts come from ``DescribeMapRun``), not the
children's events. What each state inside the Map did is read from the chunk ledger's
summary instead (so many chunks cost one item, not thousands of histories); one
child's own history can be fetched for one chunk, on demand.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models import BatchStatus, StageName

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_stepfunctions import SFNClient

    from shared.models import BatchView, StageSummary

__all__ = [
    "ExecutionView",
    "HistoryEvent",
    "MapRunView",
    "StateRun",
    "StateStatus",
    "execution_view",
    "overlay_chunk_states",
    "summarize",
]

_MAX_EVENTS = 25_000
_SUCCESS = {"LambdaFunctionSucceeded", "TaskSucceeded", "MapStateSucceeded"}
_FAILURE = {
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "TaskFailed",
    "TaskTimedOut",
    "MapStateFailed",
}
_ATTEMPT = {"LambdaFunctionScheduled", "TaskScheduled"}


class StateStatus(StrEnum):
    """What happened to a state, over all its runs (a Map's inner states run once per chunk)."""

    NOT_STARTED = "NOT_STARTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    CAUGHT = "CAUGHT"
    FAILED = "FAILED"


class StateRun(BaseModel):
    """One state's summary."""

    model_config = ConfigDict(extra="forbid")

    status: StateStatus = StateStatus.NOT_STARTED
    entered: int = 0
    exited: int = 0
    caught: int = 0
    attempts: int = 0
    entered_at: datetime | None = None
    exited_at: datetime | None = None
    duration_ms: int | None = None
    error: str | None = None
    cause: str | None = None


class HistoryEvent(BaseModel):
    """A history event, flattened."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    type: str
    timestamp: datetime
    state: str | None = None
    error: str | None = None
    cause: str | None = None


class MapRunView(BaseModel):
    """A Distributed Map's run: how many of its items (chunks) are where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: str
    map_run_arn: str
    status: str
    max_concurrency: int | None = None
    item_counts: dict[str, int] = Field(default_factory=dict)
    execution_counts: dict[str, int] = Field(default_factory=dict)


class ExecutionView(BaseModel):
    """``GET /batches/{batch_id}/execution`` (and one chunk's child execution)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_arn: str
    status: str
    started_at: datetime | None
    stopped_at: datetime | None
    definition: dict[str, Any]
    states: dict[str, StateRun]
    events: list[HistoryEvent]
    map_runs: list[MapRunView] = Field(default_factory=list)
    truncated: bool = False


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _state_names(definition: dict[str, Any]) -> dict[str, str]:
    """Map every state name (nested Map states included) to its type."""
    names: dict[str, str] = {}
    for name, state in definition.get("States", {}).items():
        names[name] = state["Type"]
        if "ItemProcessor" in state:
            names.update(_state_names(state["ItemProcessor"]))
        for branch in state.get("Branches", []):
            names.update(_state_names(branch))
    return names


def summarize(
    definition: dict[str, Any], events: list[dict[str, Any]], running: bool
) -> tuple[dict[str, StateRun], list[HistoryEvent]]:
    """Summarise each state of ``definition`` from a raw execution history (pure)."""
    types = _state_names(definition)
    runs = {name: StateRun() for name in types}
    by_id = {event["id"]: event for event in events}
    owner_cache: dict[int, str | None] = {}

    def owner(event: dict[str, Any]) -> str | None:
        trail: list[int] = []
        current: dict[str, Any] | None = event
        found: str | None = None
        while current is not None:
            if current["id"] in owner_cache:
                found = owner_cache[current["id"]]
                break
            trail.append(current["id"])
            # State and Map-iteration events name their state; the others follow their thread.
            found = _details(current).get("name")
            if found is not None:
                break
            current = by_id.get(current.get("previousEventId", 0))
        for event_id in trail:
            owner_cache[event_id] = found
        return found

    flat: list[HistoryEvent] = []
    for event in events:
        details = _details(event)
        state = owner(event)
        flat.append(
            HistoryEvent(
                id=event["id"],
                type=event["type"],
                timestamp=event["timestamp"],
                state=state,
                error=details.get("error"),
                cause=details.get("cause"),
            )
        )
        run = runs.get(state) if state else None
        if run is None:
            continue
        _apply(run, event, details, by_id)
    for name, run in runs.items():
        run.status = _status(run, types[name], running)
        if run.entered_at and run.exited_at:
            run.duration_ms = int((run.exited_at - run.entered_at).total_seconds() * 1000)
    return runs, flat


def _apply(
    run: StateRun, event: dict[str, Any], details: dict[str, Any], by_id: dict[int, Any]
) -> None:
    kind = event["type"]
    if kind.endswith("StateEntered"):
        run.entered += 1
        run.entered_at = min(filter(None, [run.entered_at, event["timestamp"]]))
    elif kind.endswith("StateExited"):
        run.exited += 1
        run.exited_at = max(filter(None, [run.exited_at, event["timestamp"]]))
        if _last_outcome_failed(event, by_id):
            run.caught += 1
    elif kind in _ATTEMPT:
        run.attempts += 1
    elif kind in _FAILURE:
        run.error = details.get("error") or run.error
        run.cause = details.get("cause") or run.cause


def _last_outcome_failed(exit_event: dict[str, Any], by_id: dict[int, Any]) -> bool:
    current = by_id.get(exit_event.get("previousEventId", 0))
    while current is not None and not current["type"].endswith("StateEntered"):
        if current["type"] in _FAILURE:
            return True
        if current["type"] in _SUCCESS:
            return False
        current = by_id.get(current.get("previousEventId", 0))
    return False


def _status(run: StateRun, state_type: str, running: bool) -> StateStatus:
    if run.entered == 0:
        return StateStatus.NOT_STARTED
    if state_type == "Fail":
        return StateStatus.FAILED
    if run.entered > run.exited:
        return StateStatus.RUNNING if running else StateStatus.FAILED
    if run.caught:
        return StateStatus.CAUGHT
    return StateStatus.SUCCEEDED


def _map_runs(
    sfn: SFNClient, events: list[HistoryEvent], raw: list[dict[str, Any]]
) -> list[MapRunView]:
    runs: list[MapRunView] = []
    by_id = {event["id"]: event for event in raw}
    for event in events:
        if event.type != "MapRunStarted":
            continue
        arn = by_id[event.id].get("mapRunStartedEventDetails", {}).get("mapRunArn")
        if not arn:
            continue
        described = sfn.describe_map_run(mapRunArn=arn)
        runs.append(
            MapRunView(
                state=event.state or "",
                map_run_arn=arn,
                status=described["status"],
                max_concurrency=described.get("maxConcurrency"),
                item_counts=_counts(described.get("itemCounts")),
                execution_counts=_counts(described.get("executionCounts")),
            )
        )
    return runs


def _counts(counts: Mapping[str, Any] | None) -> dict[str, int]:
    return {name: int(value) for name, value in (counts or {}).items()}


def overlay_chunk_states(
    definition: dict[str, Any], states: dict[str, StateRun], batch: BatchView
) -> dict[str, StateRun]:
    """Fill in the states inside the Distributed Map from the chunk ledger's summary (pure).

    A stage state is entered once per chunk that reached it (finished it, or failed
    there), attempted once per invocation (failed attempts included), and caught once
    per chunk whose failure stopped there; ``RecordChunkFailure`` once per failed chunk.
    """
    inner = {
        name
        for state in definition.get("States", {}).values()
        if state.get("Type") == "Map"
        for name in state.get("ItemProcessor", {}).get("States", {})
    }
    running = batch.status in {BatchStatus.RECEIVED, BatchStatus.RUNNING}
    total = batch.chunks.total or 0
    merged = dict(states)
    for name in inner:
        stage = _stage_of(name)
        if stage is not None:
            merged[name] = _stage_run(batch.stages.get(stage), running, total)
        elif name == "RecordChunkFailure":
            failed = batch.chunks.failed
            merged[name] = StateRun(
                status=StateStatus.SUCCEEDED if failed else StateStatus.NOT_STARTED,
                entered=failed,
                exited=failed,
                attempts=failed,
            )
    return merged


def _stage_run(summary: StageSummary | None, running: bool, total: int) -> StateRun:
    if summary is None:
        return StateRun()
    entered = summary.chunks_done + summary.chunks_caught
    if running and entered < total:
        status = StateStatus.RUNNING
    elif summary.chunks_caught:
        status = StateStatus.CAUGHT
    else:
        status = StateStatus.SUCCEEDED
    duration = None
    if summary.started_at and summary.finished_at:
        duration = int((summary.finished_at - summary.started_at).total_seconds() * 1000)
    return StateRun(
        status=status,
        entered=entered,
        exited=entered,
        caught=summary.chunks_caught,
        attempts=summary.chunks_done + summary.failed_attempts,
        entered_at=summary.started_at,
        exited_at=summary.finished_at,
        duration_ms=duration,
        error=summary.last_error,
    )


def _stage_of(state_name: str) -> StageName | None:
    try:
        return StageName(state_name.lower())
    except ValueError:
        return None


def execution_view(
    sfn: SFNClient,
    execution_arn: str,
    definition: dict[str, Any],
    batch: BatchView | None = None,
) -> ExecutionView:
    """Fetch one execution's description and history and summarise them.

    With ``batch``, the states inside the Distributed Map come from its chunk ledger,
    and each Map Run's counts are fetched.
    """
    described = sfn.describe_execution(executionArn=execution_arn)
    events: list[dict[str, Any]] = []
    truncated = False
    for page in sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 1000}
    ):
        events.extend(dict(e) for e in page["events"])
        if len(events) >= _MAX_EVENTS:
            truncated = True
            break
    states, flat = summarize(definition, events, running=described["status"] == "RUNNING")
    map_runs: list[MapRunView] = []
    if batch is not None:
        states = overlay_chunk_states(definition, states, batch)
        map_runs = _map_runs(sfn, flat, events)
    return ExecutionView(
        execution_arn=execution_arn,
        status=described["status"],
        started_at=described.get("startDate"),
        stopped_at=described.get("stopDate"),
        definition=definition,
        states=states,
        events=flat,
        map_runs=map_runs,
        truncated=truncated,
    )
