"""cfn-lint on the packaged templates: nothing left, informational findings included.

A finding we decide to live with goes into ``EXPLAINED`` with its reason, and only
there; today there is none. cfn-lint validates the state machine's ASL too, because the
template carries it as a ``Definition`` object (a ``DefinitionString`` is not checked):
the last test proves it still looks.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.packaging.build import Built

CFN_LINT = Path(sys.executable).with_name("cfn-lint")
# rule id → why it does not apply to us. Passed to cfn-lint as --ignore-checks.
EXPLAINED: dict[str, str] = {}
LINT_TIMEOUT_S = 300


def _lint(*templates: Path) -> list[dict[str, Any]]:
    command = [str(CFN_LINT), "--format", "json", "--include-checks", "I"]
    if EXPLAINED:
        command += ["--ignore-checks", *EXPLAINED]
    done = subprocess.run(
        [*command, "--", *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
        check=False,
    )
    assert done.stdout.strip(), f"cfn-lint printed nothing (exit {done.returncode}): {done.stderr}"
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def _summary(findings: list[dict[str, Any]]) -> list[str]:
    return [
        f"{f['Rule']['Id']} {'/'.join(map(str, f['Location']['Path']))}: {f['Message']}"
        for f in findings
    ]


def test_cfn_lint_finds_nothing_in_the_packaged_templates(built: Built):
    packaged = built.packaged
    findings = _lint(packaged.template, packaged.resources_template)
    assert findings == [], "\n".join(_summary(findings))


def test_cfn_lint_checks_the_state_machine_definition(built: Built, tmp_path: Path):
    broken = copy.deepcopy(built.sam)
    states = broken["Resources"]["PipelineStateMachine"]["Properties"]["Definition"]["States"]
    states["BatchDone"]["Type"] = "Succeeded"
    template = tmp_path / "broken.json"
    template.write_text(json.dumps(broken))
    rules = {f["Rule"]["Id"] for f in _lint(template)}
    assert any(rule.startswith("E36") for rule in rules), rules
