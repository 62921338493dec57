"""The pipeline's Lambda stages: one module per ASL state, each a pure function and a handler.

``STATE_FUNCTIONS`` is the one list of the Lambda functions the state machine invokes,
in pipeline order. Everything else derives from it: the functions ``app.py`` defines,
the ``${...FunctionArn}`` substitutions and the invoke permission of the state machine
(``infra/template.py``), and the functions the local runtime dispatches to.
"""

from __future__ import annotations

__all__ = ["STATE_FUNCTIONS", "state_name"]

STATE_FUNCTIONS = (
    "split",
    "validate",
    "transform",
    "enrich",
    "store",
    "record_chunk_failure",
    "finalize",
    "mark_failed",
)


def state_name(function: str) -> str:
    """The ASL state a function runs: ``record_chunk_failure`` → ``RecordChunkFailure``."""
    return "".join(part.capitalize() for part in function.split("_"))
