"""The packaged artifact, built once per session (see ``tests/packaging/build.py``)."""

from __future__ import annotations

import pytest

from tests.packaging.build import Built, build_once


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_once(tmp_path_factory)
