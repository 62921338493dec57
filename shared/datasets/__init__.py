"""The dataset registry: datasets register themselves by name; stages look them up.

A dataset is one module or package beside this one (``shared/datasets/flights/``) that
calls ``register`` when imported: every one of them is found and imported on first
lookup, so adding a dataset changes nothing anywhere else. ``SLUICE_DATASET_MODULES``
(comma-separated module names) imports more, from anywhere on the path: the local
runtime's plugins and the tests' second dataset. On AWS a dataset ships with the code,
so it belongs here.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from typing import Any

from shared.datasets.base import Dataset, Rejection, rejections_from_validation_error
from shared.errors import UnknownDatasetError

__all__ = [
    "Dataset",
    "Rejection",
    "datasets",
    "get_dataset",
    "register",
    "rejections_from_validation_error",
]

AnyDataset = Dataset[Any, Any, Any]

_REGISTRY: dict[str, AnyDataset] = {}


def register(dataset: AnyDataset) -> AnyDataset:
    """Register a dataset under its name (replacing one of the same name) and return it."""
    _REGISTRY[dataset.name] = dataset
    return dataset


def get_dataset(name: str) -> AnyDataset:
    """Return the dataset registered under ``name``.

    Raises:
        UnknownDatasetError: no dataset has that name.
    """
    _load_builtin_datasets()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {known}") from None


def datasets() -> list[AnyDataset]:
    """The registered datasets, sorted by name."""
    _load_builtin_datasets()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


DATASET_MODULES_VARIABLE = "SLUICE_DATASET_MODULES"
_NOT_DATASETS = frozenset({"base"})


@functools.cache
def _load_builtin_datasets() -> None:
    # Imported lazily so a process that never touches a dataset never loads its models.
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _NOT_DATASETS and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    for name in os.environ.get(DATASET_MODULES_VARIABLE, "").split(","):
        if name.strip():
            importlib.import_module(name.strip())
