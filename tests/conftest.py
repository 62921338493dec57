"""Fixtures more than one test folder uses, written once."""

from __future__ import annotations

import pytest

from tests.packaging.build import Built, build_once

FAKE_REGION = "us-east-1"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The packaged artifact, built once per session (see ``tests/packaging/build.py``)."""
    return build_once(tmp_path_factory)


@pytest.fixture
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment that can only reach moto: fake credentials, no endpoint or profile.

    The caller enters ``mock_aws`` (with the config it needs); the pipeline's own limits
    go back to their defaults.
    """
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SLUICE_CHUNK_SIZE", "SLUICE_MAX_RECORDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", FAKE_REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
