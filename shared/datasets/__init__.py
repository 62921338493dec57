"""The dataset registry: datasets register themselves by name; stages look them up."""

from __future__ import annotations

from typing import Any

from shared.datasets.base import Dataset, Rejection, rejections_from_validation_error
from shared.errors import UnknownDatasetError

__all__ = [
    "Dataset",
    "Rejection",
    "dataset_names",
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


def dataset_names() -> list[str]:
    """List the registered dataset names, sorted."""
    _load_builtin_datasets()
    return sorted(_REGISTRY)


def _load_builtin_datasets() -> None:
    # Imported lazily so a process that never touches a dataset never loads its models.
    import shared.datasets.flights  # noqa: F401
