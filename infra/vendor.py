"""Fill ``vendor/`` with what the Lambda zip needs besides ``app.py`` and ``chalicelib/``.

Chalice packages only ``app.py``, ``chalicelib/``, ``vendor/`` and ``requirements.txt``.
Our stages and shared code live at the top level (they are not Chalice-specific), and a
dataset's functions may read files at run time (lookup tables), so this copies
``stages/``, ``shared/`` and every dataset's declared ``reference_files`` into ``vendor/``,
each where the dataset says it looks for it. It also unpacks the packages of
``infra/requirements-nodeps.txt`` for the Lambda runtime's Python: Powertools' Tracer
needs ``aws-xray-sdk``, which depends on botocore; installed without its dependencies it
uses the runtime's botocore instead of shipping its own. Run it as
``python -m infra.vendor [DESTINATION]`` (``make vendor``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from shared.datasets import datasets

if TYPE_CHECKING:
    from collections.abc import Iterable

    from shared.datasets import AnyDataset

__all__ = [
    "LAMBDA_PYTHON_VERSION",
    "NODEPS_REQUIREMENTS",
    "build_vendor",
    "copy_reference_files",
]

ROOT = Path(__file__).resolve().parent.parent
NODEPS_REQUIREMENTS = ROOT / "infra" / "requirements-nodeps.txt"
LAMBDA_PYTHON_VERSION = "3.12"
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34), x86_64.
_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def build_vendor(
    root: Path = ROOT,
    destination: Path | None = None,
    python_version: str = LAMBDA_PYTHON_VERSION,
    wheel_cache: Path | None = None,
) -> Path:
    """Recreate ``destination`` (default ``root/vendor``) and return its path."""
    vendor = destination or root / "vendor"
    shutil.rmtree(vendor, ignore_errors=True)
    vendor.mkdir(parents=True)
    for package in ("shared", "stages"):
        shutil.copytree(root / package, vendor / package, ignore=_IGNORE)
    copy_reference_files(vendor, datasets())
    wheels = wheel_cache or root / "build" / "wheels" / f"cp{python_version.replace('.', '')}"
    for wheel in _download_nodeps_wheels(wheels, python_version):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(vendor)
    return vendor


def copy_reference_files(vendor: Path, shipped: Iterable[AnyDataset]) -> list[Path]:
    """Copy every reference file the datasets declare to its place under ``vendor``.

    Returns:
        The paths written, in the datasets' order.

    Raises:
        ValueError: a file's ``vendor_path`` is not a relative path inside ``vendor/``.
        FileExistsError: two files would land on the same path, or one on our own code.
        FileNotFoundError: a dataset cannot find its file on this machine.
    """
    written: list[Path] = []
    for dataset in shipped:
        for reference in dataset.reference_files:
            relative = PurePosixPath(reference.vendor_path)
            if relative.is_absolute() or not relative.parts or ".." in relative.parts:
                raise ValueError(
                    f"dataset {dataset.name!r}: a reference file's vendor_path must be a "
                    f"relative path inside vendor/, not {reference.vendor_path!r}"
                )
            target = vendor.joinpath(*relative.parts)
            if target.exists():
                raise FileExistsError(
                    f"dataset {dataset.name!r} would overwrite {target} with its reference "
                    f"file {reference.vendor_path!r}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(reference.locate(), target)
            written.append(target)
    return written


def _download_nodeps_wheels(directory: Path, python_version: str) -> list[Path]:
    """Download the no-dependency wheels for Lambda's platform (pip skips those it has)."""
    directory.mkdir(parents=True, exist_ok=True)
    abi = "cp" + python_version.replace(".", "")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        *(argument for platform in _PLATFORMS for argument in ("--platform", platform)),
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--abi",
        abi,
        "--abi",
        "none",
        "--dest",
        str(directory),
        "-r",
        str(NODEPS_REQUIREMENTS),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    pinned = _pinned(NODEPS_REQUIREMENTS)
    wheels = [wheel for wheel in sorted(directory.glob("*.whl")) if _pin_of(wheel) in pinned]
    found = {_pin_of(wheel) for wheel in wheels}
    missing = pinned - found
    if missing:
        raise RuntimeError(f"pip downloaded no Lambda wheel for {sorted(missing)}")
    return wheels


def _pin_of(wheel: Path) -> tuple[str, ...]:
    return tuple(wheel.name.lower().split("-")[:2])


def _pinned(requirements: Path) -> set[tuple[str, ...]]:
    """Return ``(distribution, version)`` pairs, spelled the way wheel file names spell them."""
    pins: set[tuple[str, ...]] = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins.add((name.strip().replace("-", "_").lower(), version.strip()))
    return pins


def main(argv: list[str] | None = None) -> None:
    """Build ``vendor/`` (or the given folder) for the Lambda runtime."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("destination", nargs="?", type=Path, default=None)
    parser.add_argument("--python-version", default=LAMBDA_PYTHON_VERSION)
    arguments = parser.parse_args(argv)
    built = build_vendor(destination=arguments.destination, python_version=arguments.python_version)
    sys.stdout.write(f"{built} ready: {sorted(p.name for p in built.iterdir())}\n")


if __name__ == "__main__":
    main()
