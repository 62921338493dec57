"""The execution graph's pure layout (``frontend/js/graph-layout.js``), run in Chromium.

Node is not on every machine, Chromium is: each test imports the ES module in a module
Web Worker (``graph_layout_worker.js``, where there is no ``document``, so the layout
cannot touch the DOM) and asserts on the positions and edges it answers. The frontend's
files come from a small static server of ``frontend/``; the local runtime is not needed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.dashboard_pages import launch_chromium

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
FRONTEND = REPO_ROOT / "frontend"
PIPELINE_ASL = REPO_ROOT / "statemachine" / "pipeline.asl.json"
NODE_HEIGHT = 50
NODE_HEIGHT_WITH_ERROR = 68

WORKER_PATH = Path(__file__).resolve().parent / "graph_layout_worker.js"

RUN_IN_WORKER = """
async ([source, message]) => {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    return await new Promise((resolve, reject) => {
      worker.onerror = (event) => reject(new Error(event.message || "the worker failed"));
      worker.onmessage = ({ data }) => resolve(data);
      worker.postMessage({ ...message, origin: location.origin });
    });
  } finally {
    worker.terminate();
  }
}
"""


def _task(name: str, **more: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:lambda:::function:{name}", **more}


CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}]
# A pipeline in small: a task, a Distributed Map of three states (one a Catch target
# inside the map), then a happy end and a failure path that every top task catches into.
SMALL_ASL: dict[str, Any] = {
    "StartAt": "Split",
    "States": {
        "Split": _task("split", Next="ProcessChunks", Catch=CATCH_ALL),
        "ProcessChunks": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Validate",
                "States": {
                    "Validate": _task(
                        "validate",
                        Next="Store",
                        Catch=[{"ErrorEquals": ["ChunkError"], "Next": "RecordFailure"}],
                    ),
                    "Store": _task("store", End=True),
                    "RecordFailure": _task("record", End=True),
                },
            },
            "Catch": CATCH_ALL,
            "Next": "Finalize",
        },
        "Finalize": _task("finalize", End=True),
        "MarkFailed": _task("mark_failed", Next="Failed"),
        "Failed": {"Type": "Fail", "Error": "BatchFailed"},
    },
}
# A loop: a Choice that goes back to an earlier state until it is done.
LOOP_ASL: dict[str, Any] = {
    "StartAt": "Poll",
    "States": {
        "Poll": _task("poll", Next="Done?"),
        "Done?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Finished"}],
            "Default": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Poll"},
        "Finished": {"Type": "Succeed"},
    },
}


BLANK_PAGE = b"<!doctype html><title>graph layout</title>"


class _FrontendFiles(SimpleHTTPRequestHandler):
    """``frontend/``'s files, and a blank page at ``/blank`` to run the workers from."""

    def do_GET(self) -> None:
        if self.path != "/blank":
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(BLANK_PAGE)))
        self.end_headers()
        self.wfile.write(BLANK_PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        """Keep the test output free of one line per request."""


@pytest.fixture(scope="module")
def frontend_url() -> Iterator[str]:
    """``frontend/`` served over HTTP on a free port (module workers need an http origin)."""
    handler = functools.partial(_FrontendFiles, directory=str(FRONTEND))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="frontend", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def page(frontend_url: str) -> Iterator[Page]:
    with launch_chromium() as chromium:
        context = chromium.new_context()
        blank = context.new_page()
        blank.goto(f"{frontend_url}/blank")
        yield blank
        with contextlib.suppress(Exception):
            context.close()


def layout(
    page: Page, definition: dict[str, Any], states: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The layout of ``definition``, flattened: absolute ``nodes`` and ``edges``."""
    answer: dict[str, Any] = page.evaluate(
        RUN_IN_WORKER,
        [
            WORKER_PATH.read_text(encoding="utf-8"),
            {"definition": definition, "states": states or {}},
        ],
    )
    assert "error" not in answer, answer.get("error")
    assert answer["hasDocument"] is False, "the layout ran where a DOM exists"
    return answer


def by_name(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["name"]: node for node in answer["nodes"]}


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def contains(outer: dict[str, Any], inner: dict[str, Any]) -> bool:
    return bool(
        outer["x"] <= inner["x"]
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"]
        and outer["y"] <= inner["y"]
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"]
    )


def centre_x(node: dict[str, Any]) -> float:
    return float(node["x"] + node["w"] / 2)


def assert_siblings_apart(answer: dict[str, Any]) -> None:
    """No two states of one machine share a position or overlap."""
    nodes = answer["nodes"]
    for index, a in enumerate(nodes):
        for b in nodes[index + 1 :]:
            if a["parent"] == b["parent"]:
                assert (a["x"], a["y"]) != (b["x"], b["y"]), f"{a['name']} and {b['name']}"
                assert not overlaps(a, b), f"{a['name']} overlaps {b['name']}: {a} {b}"


def test_every_state_of_a_map_and_its_machine_gets_its_own_place(page: Page):
    answer = layout(page, SMALL_ASL)
    nodes = by_name(answer)
    assert sorted(nodes) == sorted(answer["states"])
    assert sorted(nodes) == sorted(
        ["Split", "ProcessChunks", "Validate", "Store", "RecordFailure"]
        + ["Finalize", "MarkFailed", "Failed"]
    )
    assert len({(node["x"], node["y"]) for node in nodes.values()}) == len(nodes)
    assert_siblings_apart(answer)
    # The Map is a box around its own states, which are laid out inside it.
    for inner in ("Validate", "Store", "RecordFailure"):
        assert nodes[inner]["parent"] == "ProcessChunks"
        assert contains(nodes["ProcessChunks"], nodes[inner]), inner
    for outer in ("Split", "Finalize", "MarkFailed", "Failed"):
        assert nodes[outer]["parent"] is None
        assert not overlaps(nodes["ProcessChunks"], nodes[outer]), outer
    # Top down: each state sits below the one that leads to it.
    for upper, lower in [
        ("Split", "ProcessChunks"),
        ("ProcessChunks", "Finalize"),
        ("Validate", "Store"),
        ("MarkFailed", "Failed"),
    ]:
        assert nodes[upper]["y"] + nodes[upper]["h"] < nodes[lower]["y"], (upper, lower)
    # The happy path is one straight column; the failure path is beside it.
    assert centre_x(nodes["Split"]) == centre_x(nodes["ProcessChunks"])
    assert centre_x(nodes["ProcessChunks"]) == centre_x(nodes["Finalize"])
    assert centre_x(nodes["MarkFailed"]) != centre_x(nodes["Split"])
    assert answer["width"] >= max(node["x"] + node["w"] for node in nodes.values())
    assert answer["height"] >= max(node["y"] + node["h"] for node in nodes.values())


def test_edges_join_the_states_each_transition_names_and_catches_are_edges_too(page: Page):
    answer = layout(page, SMALL_ASL)
    nodes = by_name(answer)
    edges = {(edge["from"], edge["to"]): edge for edge in answer["edges"]}
    assert {pair: edge["kind"] for pair, edge in edges.items()} == {
        ("Split", "ProcessChunks"): "next",
        ("Split", "MarkFailed"): "catch",
        ("ProcessChunks", "Finalize"): "next",
        ("ProcessChunks", "MarkFailed"): "catch",
        ("MarkFailed", "Failed"): "next",
        ("Validate", "Store"): "next",
        ("Validate", "RecordFailure"): "catch",
    }
    assert edges[("Validate", "RecordFailure")]["label"] == "Catch ChunkError"
    assert edges[("Split", "MarkFailed")]["label"] == "Catch States.ALL"
    # Each edge leaves the bottom of its state and arrives on top of the next one.
    for (source, target), edge in edges.items():
        first, last = edge["points"][0], edge["points"][-1]
        start, end = nodes[source], nodes[target]
        assert first["y"] == start["y"] + start["h"], (source, target)
        assert start["x"] <= first["x"] <= start["x"] + start["w"], (source, target)
        assert last["y"] == end["y"], (source, target)
        assert end["x"] <= last["x"] <= end["x"] + end["w"], (source, target)
        assert not edge["back"]
    assert answer["mainPath"] == ["Split", "ProcessChunks", "Finalize"]


def test_a_state_showing_an_error_is_taller_and_the_rest_stay_apart(page: Page):
    plain = by_name(layout(page, SMALL_ASL))
    failing = layout(page, SMALL_ASL, {"Validate": {"status": "FAILED", "error": "ChunkError"}})
    nodes = by_name(failing)
    assert plain["Validate"]["h"] == NODE_HEIGHT
    assert nodes["Validate"]["h"] == NODE_HEIGHT_WITH_ERROR
    # A succeeded state's error (none to show) changes nothing.
    assert nodes["Store"]["h"] == NODE_HEIGHT
    assert nodes["Validate"]["y"] + nodes["Validate"]["h"] < nodes["Store"]["y"]
    assert contains(nodes["ProcessChunks"], nodes["Store"])
    assert_siblings_apart(failing)


def test_a_loop_back_is_drawn_as_a_back_edge_beside_the_graph(page: Page):
    answer = layout(page, LOOP_ASL)
    nodes = by_name(answer)
    edges = {(edge["from"], edge["to"]): edge for edge in answer["edges"]}
    assert set(edges) == {
        ("Poll", "Done?"),
        ("Done?", "Finished"),
        ("Done?", "Wait"),
        ("Wait", "Poll"),
    }
    assert edges[("Done?", "Wait")]["kind"] == "default"
    assert edges[("Done?", "Finished")]["kind"] == "choice"
    assert edges[("Done?", "Finished")]["label"] == "$.done BooleanEquals true"
    back = edges[("Wait", "Poll")]
    assert back["back"] is True
    assert [edge["back"] for pair, edge in edges.items() if pair != ("Wait", "Poll")] == [False] * 3
    # It leaves Wait's right side, runs outside every state, and enters Poll's right side.
    right = max(node["x"] + node["w"] for node in nodes.values())
    assert back["points"][0]["x"] == nodes["Wait"]["x"] + nodes["Wait"]["w"]
    assert all(point["x"] > right for point in back["points"][1:-1])
    assert back["points"][-1]["x"] == nodes["Poll"]["x"] + nodes["Poll"]["w"]
    assert nodes["Poll"]["y"] < nodes["Done?"]["y"] < nodes["Wait"]["y"]
    assert_siblings_apart(answer)


def test_the_pipelines_own_definition_lays_out_every_state_apart(page: Page):
    definition = json.loads(PIPELINE_ASL.read_text(encoding="utf-8"))
    answer = layout(page, definition)
    nodes = by_name(answer)
    assert sorted(nodes) == sorted(answer["states"])
    assert len(nodes) >= 8
    assert_siblings_apart(answer)
    for node in nodes.values():
        if node["parent"] is not None:
            assert contains(nodes[node["parent"]], node), node["name"]
    kinds = {edge["kind"] for edge in answer["edges"]}
    assert {"next", "catch"} <= kinds
