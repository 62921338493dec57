"""The ASL is a contract with the code: state names, error names, substitutions, functions."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import app
from infra.template import load_definition, load_template
from shared import errors
from stages import STATE_FUNCTIONS, state_name

if TYPE_CHECKING:
    from collections.abc import Iterator

DEFINITION = load_definition()
LAMBDA_RETRY_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _state_machines(machine: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield machine
    for state in machine["States"].values():
        if state["Type"] == "Map":
            yield from _state_machines(state["ItemProcessor"])
        for branch in state.get("Branches", []):
            yield from _state_machines(branch)


def _states() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for machine in _state_machines(DEFINITION):
        for name, state in machine["States"].items():
            yield name, state, machine


def _is_lambda(state: dict[str, Any]) -> bool:
    return state["Type"] == "Task" and str(state["Resource"]).endswith("FunctionArn}")


def test_every_transition_names_a_state_of_its_own_machine():
    for name, state, machine in _states():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
        for target in filter(None, targets):
            assert target in machine["States"], f"{name} → {target} does not exist"
        assert machine["StartAt"] in machine["States"]


def test_every_state_is_reachable():
    for machine in _state_machines(DEFINITION):
        reached, todo = set(), [machine["StartAt"]]
        while todo:
            name = todo.pop()
            if name in reached:
                continue
            reached.add(name)
            state = machine["States"][name]
            todo += [t for t in (state.get("Next"), state.get("Default")) if t]
            todo += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
        assert reached == set(machine["States"])


def test_every_task_has_retry_and_catch():
    for name, state, _ in _states():
        if state["Type"] in {"Task", "Map"}:
            assert state.get("Catch"), f"{name} has no Catch"
        if state["Type"] == "Task":
            assert state.get("Retry"), f"{name} has no Retry"


def test_lambda_tasks_retry_lambda_service_errors_and_every_transient_error_class():
    transient = {
        cls.__name__
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.TransientError)
    }
    assert "StorageUnavailableError" in transient
    for name, state, _ in _states():
        if _is_lambda(state):
            retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
            assert retried >= LAMBDA_RETRY_ERRORS | transient, name


def test_every_error_name_in_the_asl_is_a_known_error_class():
    # Lambda's own name for a function that ran out of time (the faults plan injects it).
    known = {name for name, _ in inspect.getmembers(errors, inspect.isclass)} | {"Sandbox.Timedout"}
    for name, state, _ in _states():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            for error in rule["ErrorEquals"]:
                assert error.startswith(("States.", "Lambda.")) or error in known, (name, error)


def test_substitutions_match_the_placeholders_exactly():
    text = str(DEFINITION)
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    substitutions = load_template()["Resources"]["PipelineStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]
    assert placeholders == set(substitutions)


@pytest.mark.parametrize("function", STATE_FUNCTIONS)
def test_every_function_the_asl_invokes_is_a_lambda_of_the_app(function: str):
    substitutions = load_template()["Resources"]["PipelineStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]
    arns = [str(v) for v in substitutions.values()]
    assert any(arn.endswith(f"${{FunctionNamePrefix}}{function}'}}") for arn in arns)
    deployed = {f.name: f.handler_string for f in app.app.pure_lambda_functions}
    assert deployed[function] == f"app.{function}"  # Chalice's function name and handler


def test_state_names_match_stage_modules():
    import importlib

    for name, state, _ in _states():
        if _is_lambda(state):
            module = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            stage = importlib.import_module(f"stages.{module}")
            assert callable(getattr(stage, module)), f"stages/{module}.py has no {module}()"


def test_the_chalice_config_tunes_only_functions_the_app_defines():
    config = json.loads(
        (Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text()
    )
    defined = {f.name for f in app.app.pure_lambda_functions} | {"api_handler", "start_batches"}
    defined |= {"api_key_authorizer"}

    assert set(config["lambda_functions"]) <= defined


def test_the_asl_invokes_exactly_the_state_functions_in_their_order():
    invoked = [
        re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        for name, state, _ in _states()
        if _is_lambda(state)
    ]

    assert sorted(invoked) == sorted(STATE_FUNCTIONS)
    assert state_name("record_chunk_failure") == "RecordChunkFailure"


def test_the_states_that_end_a_batch_retry_a_timed_out_invocation():
    # Their work is idempotent; a timeout not retried would leave the batch's item unfinished.
    states = {name: state for name, state, _ in _states()}
    for name in ("Finalize", "MarkFailed"):
        retried = {e for r in states[name]["Retry"] for e in r["ErrorEquals"]}
        assert "Sandbox.Timedout" in retried, name
