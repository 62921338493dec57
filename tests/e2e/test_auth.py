"""Keys against the running local runtime: no key, a read-only key from the CLI, revocation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
import requests

from tests.e2e.conftest import REPO_ROOT

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalRuntime

pytestmark = pytest.mark.e2e

DATA_ROUTES = [
    ("GET", "/batches"),
    ("POST", "/batches?dataset=flights"),
    ("GET", "/batches/20990101T000000-0000000000000000"),
    ("GET", "/batches/20990101T000000-0000000000000000/records"),
    ("GET", "/batches/20990101T000000-0000000000000000/execution"),
]


def _keys_cli(runtime: LocalRuntime, *args: str) -> str:
    """Run ``python -m chalicelib.api_keys`` with the environment the devserver wrote."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_"))}
    for line in (runtime.state_dir / "env").read_text().splitlines():
        name, _, value = line.partition("=")
        environment[name] = value
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.api_keys", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("method", "path"), DATA_ROUTES)
def test_every_data_route_without_a_key_is_401(local_runtime: LocalRuntime, method: str, path: str):
    response = requests.request(
        method, f"{local_runtime.api}{path}", headers={"Content-Type": "text/csv"}, timeout=30
    )

    assert response.status_code == 401


def test_a_read_only_key_from_the_cli_reads_and_cannot_ingest_until_revoked(
    local_runtime: LocalRuntime,
):
    created = _keys_cli(local_runtime, "create", "--name", "reader", "--scope", "read")
    token = re.search(r"token \(shown once, keep it secret\): (\S+)", created)
    key_id = re.search(r"created key (\w+)", created)
    assert token and key_id, created
    auth = {"Authorization": f"Bearer {token.group(1)}"}

    assert requests.get(f"{local_runtime.api}/batches", headers=auth, timeout=30).status_code == 200
    refused = requests.post(
        f"{local_runtime.api}/batches?dataset=flights",
        headers={**auth, "Content-Type": "text/csv"},
        data=b"year\n2013\n",
        timeout=30,
    )
    assert refused.status_code == 403
    assert "reader" in _keys_cli(local_runtime, "list")

    _keys_cli(local_runtime, "revoke", key_id.group(1))

    assert requests.get(f"{local_runtime.api}/batches", headers=auth, timeout=30).status_code == 403


def test_the_dashboard_is_served_on_the_api_origin(local_runtime: LocalRuntime):
    root = requests.get(f"{local_runtime.api}/", timeout=30, allow_redirects=False)
    config = requests.get(f"{local_runtime.api}/dashboard/config.js", timeout=30)
    escapes = [
        requests.get(f"{local_runtime.api}/dashboard/{path}", timeout=30)
        for path in ("../app.py", "%2e%2e/app.py", "..%2fapp.py")
    ]

    assert (root.status_code, root.headers["Location"]) == (302, "/dashboard/")
    assert config.text == 'export const API_BASE_URL = "";\n'
    assert config.headers["Content-Type"] == "text/javascript"
    assert all(e.status_code in {403, 404} and "chalice" not in e.text for e in escapes)
