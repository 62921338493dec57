"""The resources template, with the state machine's definition filled from ``statemachine/``.

``infra/resources.json`` declares every pipeline resource; this module inserts the ASL
file into it, so the definition the local runtime runs and the one deployed are the
same file.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

__all__ = [
    "ASL_PATH",
    "STATE_MACHINE_ID",
    "TEMPLATE_PATH",
    "load_definition",
    "load_template",
    "settings_environment",
]

ROOT = Path(__file__).resolve().parent.parent
ASL_PATH = ROOT / "statemachine" / "pipeline.asl.json"
TEMPLATE_PATH = ROOT / "infra" / "resources.json"
STATE_MACHINE_ID = "PipelineStateMachine"

# Stack output → the SLUICE_* variable every function reads (shared/settings.py).
_OUTPUT_TO_SETTING = {
    "BatchesTableName": "SLUICE_BATCHES_TABLE",
    "RecordsTableName": "SLUICE_RECORDS_TABLE",
    "ApiKeysTableName": "SLUICE_API_KEYS_TABLE",
    "RawBucketName": "SLUICE_RAW_BUCKET",
    "ProcessedBucketName": "SLUICE_PROCESSED_BUCKET",
    "IngestQueueUrl": "SLUICE_INGEST_QUEUE_URL",
    "StateMachineArn": "SLUICE_STATE_MACHINE_ARN",
}


@functools.cache
def load_definition() -> dict[str, Any]:
    """Return the state machine's ASL definition."""
    definition: dict[str, Any] = json.loads(ASL_PATH.read_text())
    return definition


def load_template() -> dict[str, Any]:
    """Return the resources template with the ASL inserted as the ``Definition`` object."""
    template: dict[str, Any] = json.loads(TEMPLATE_PATH.read_text())
    machine = template["Resources"][STATE_MACHINE_ID]["Properties"]
    machine["Definition"] = copy.deepcopy(load_definition())
    return template


def settings_environment(outputs: dict[str, str]) -> dict[str, str]:
    """Map the stack's outputs to the environment variables the functions read."""
    return {setting: outputs[output] for output, setting in _OUTPUT_TO_SETTING.items()}
