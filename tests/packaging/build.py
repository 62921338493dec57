"""One ``make package`` build per test session, shared by tests/packaging and tests/deploy.

The build runs exactly what ``make package`` runs (``infra.package.package``) into a
temporary folder; the packaging virtualenv and wheel cache under ``build/`` are reused
between runs like ``.venv`` is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.package import Packaged, PackagingError, package

if TYPE_CHECKING:
    import pytest

__all__ = ["Built", "build_once"]


@dataclass(frozen=True)
class Built:
    """The package and its parsed templates."""

    packaged: Packaged
    sam: dict[str, Any]
    resources: dict[str, Any]


_BUILT: list[Built] = []


def build_once(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Package the app for the ``dev`` stage once per session; return the result."""
    if not _BUILT:
        root = tmp_path_factory.mktemp("make-package", numbered=True)
        try:
            packaged = package("dev", root / "out", app_dir=root / "app")
        except PackagingError as err:
            raise AssertionError(f"make package failed: {err}") from err
        _BUILT.append(
            Built(
                packaged=packaged,
                sam=json.loads(packaged.template.read_text()),
                resources=json.loads(packaged.resources_template.read_text()),
            )
        )
    return _BUILT[0]
