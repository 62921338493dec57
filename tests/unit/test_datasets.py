"""The dataset registry and what each dataset declares about itself."""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from shared.datasets import datasets
from shared.datasets.base import default_display

ALL = datasets()


def _field_type(model: type[BaseModel], path: str) -> Any:
    """The annotation a dotted path reaches in a model, through nested and optional models."""
    current: Any = model
    for part in path.split("."):
        models = [
            arg
            for arg in (typing.get_args(current) or (current,))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        assert models, f"{path!r}: {part!r} is not inside a model"
        assert part in models[0].model_fields, f"{path!r}: {models[0].__name__} has no {part!r}"
        current = models[0].model_fields[part].annotation
        if isinstance(current, types.UnionType):
            current = typing.Union[current]  # noqa: UP007 (get_args works on both spellings)
    return current


def test_the_builtin_datasets_are_found_without_being_named():
    assert "flights" in [dataset.name for dataset in ALL]


@pytest.mark.parametrize("dataset", ALL, ids=lambda d: d.name)
def test_every_display_path_names_a_field_of_the_stored_record(dataset: Any):
    display = dataset.display_or_default()
    paths = [path for column in display.columns for path in (*column.fields, *column.detail)]
    if display.record_label:
        paths.append(display.record_label)
    assert paths
    for path in paths:
        _field_type(dataset.enriched_model, path)


@pytest.mark.parametrize("dataset", ALL, ids=lambda d: d.name)
def test_every_filter_is_a_field_of_the_stored_record(dataset: Any):
    for name in dataset.filters:
        assert name in dataset.enriched_model.model_fields


def test_a_dataset_without_a_display_shows_its_first_fields():
    class Stored(BaseModel):
        sensor_id: str
        value: float

    display = default_display(Stored)
    assert [(c.label, c.fields) for c in display.columns] == [
        ("sensor id", ("sensor_id",)),
        ("value", ("value",)),
    ]
    assert display.record_label == ""


def test_a_wrong_display_path_is_caught():
    class Inner(BaseModel):
        name: str

    class Stored(BaseModel):
        inner: Inner | None

    _field_type(Stored, "inner.name")
    with pytest.raises(AssertionError, match="has no 'nam'"):
        _field_type(Stored, "inner.nam")


@pytest.mark.parametrize("dataset", ALL, ids=lambda d: d.name)
def test_badge_tones_name_values_the_field_can_hold(dataset: Any):
    for column in dataset.display_or_default().columns:
        for path in column.fields:
            kinds = typing.get_args(_field_type(dataset.enriched_model, path)) or (
                _field_type(dataset.enriched_model, path),
            )
            enums = [k for k in kinds if isinstance(k, type) and issubclass(k, enum.Enum)]
            if column.tones and enums:
                assert set(column.tones) <= {m.value for m in enums[0]}, column.label
