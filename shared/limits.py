"""What any record may be before a dataset looks at it, and how a reject is kept so it fits.

A record is untrusted until its dataset has validated it, and what is refused is stored
as a reject in DynamoDB (an item of at most 400 KB, maps nested at most 32 deep,
numbers of at most 38 digits, no NaN or infinity). So before a dataset's rules run,
every raw record is checked against limits that keep one record from sinking its
chunk: the number of fields, the size of one field and of the record, how deeply it
nests, NUL characters and numbers no store takes. A record over a limit is rejected
with a reason per limit (``poison_reasons``), and its dataset's rules do not run (a
record of 10,000 unknown fields would otherwise carry 10,000 reasons).

A reject's values and reasons are stored bounded (``kept_values``, ``kept_reasons``):
long strings cut with a visible marker, at most ``MAX_KEPT_FIELDS`` fields, deep values
and unstorable numbers as text. The values as received stay whole in the chunk's raw
object in S3 (the record's lineage shows them while it lives) and in the raw source.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Final

from pydantic_core import to_json

from shared.datasets.base import Rejection

__all__ = [
    "MAX_DEPTH",
    "MAX_FIELDS",
    "MAX_FIELD_BYTES",
    "MAX_KEPT_FIELDS",
    "MAX_KEPT_REASONS",
    "MAX_KEPT_VALUE_CHARS",
    "MAX_RECORD_BYTES",
    "kept_reasons",
    "kept_values",
    "poison_reasons",
]

MAX_FIELDS: Final = 500
MAX_FIELD_BYTES: Final = 32 * 1024
MAX_RECORD_BYTES: Final = 128 * 1024
MAX_DEPTH: Final = 8
# DynamoDB keeps numbers of up to 38 significant digits.
_MAX_DIGITS: Final = 38
MAX_KEPT_FIELDS: Final = 100
MAX_KEPT_VALUE_CHARS: Final = 1_000
MAX_KEPT_REASONS: Final = 50


# A record of at most this many fields, each a short string, a small number, a bool or
# null, is within every limit: checked in one pass (most records are such).
_PLAIN_FIELDS: Final = 100
_PLAIN_CHARS: Final = 256
_PLAIN_INT: Final = 10**_MAX_DIGITS


def _plainly_fit(values: dict[str, Any]) -> bool:
    return len(values) <= _PLAIN_FIELDS and all(
        _plain(key) and _plain(value) for key, value in values.items()
    )


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return len(value) <= _PLAIN_CHARS and "\x00" not in value
    if kind is int:
        return bool(-_PLAIN_INT < value < _PLAIN_INT)
    if kind is float:
        return bool(value == 0 or (math.isfinite(value) and 1e-120 < abs(value) < 1e120))
    return value is None or kind is bool


def poison_reasons(values: dict[str, Any]) -> list[Rejection]:
    """The limits a raw record breaks (empty when it is fit for its dataset's rules)."""
    if _plainly_fit(values):
        return []
    reasons: list[Rejection] = []
    if len(values) > MAX_FIELDS:
        reasons.append(
            Rejection(
                field="record",
                rule="too_many_fields",
                message=f"the record has {len(values)} fields; at most {MAX_FIELDS} are taken",
            )
        )
    size = len(to_json(values, inf_nan_mode="constants"))
    if size > MAX_RECORD_BYTES:
        reasons.append(
            Rejection(
                field="record",
                rule="record_too_large",
                message=f"the record is {size:,} bytes; at most {MAX_RECORD_BYTES:,} are taken",
            )
        )
    for field, value in list(values.items())[: MAX_FIELDS + 1]:
        reasons.extend(_field_reasons(str(field), value))
    return _one_per_rule_and_field(reasons)


def _field_reasons(field: str, value: Any) -> list[Rejection]:
    reasons: list[Rejection] = []
    if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_FIELD_BYTES:
        reasons.append(
            Rejection(
                field=field,
                rule="field_too_large",
                message=f"{field} is {len(value.encode('utf-8', 'surrogatepass')):,} bytes; "
                f"at most {MAX_FIELD_BYTES:,} are taken",
            )
        )
    if _depth(value) > MAX_DEPTH:
        reasons.append(
            Rejection(
                field=field,
                rule="nested_too_deep",
                message=f"{field} nests more than {MAX_DEPTH} levels deep",
            )
        )
    for text in (field, *_strings(value)):
        if "\x00" in text:
            reasons.append(
                Rejection(field=field, rule="nul_character", message=f"{field} holds a NUL")
            )
            break
    for number in _numbers(value):
        if not _storable(number):
            reasons.append(
                Rejection(
                    field=field,
                    rule="unstorable_number",
                    message=f"{field} holds {_text(number)}, which no store keeps "
                    f"(at most {_MAX_DIGITS} digits, no NaN or infinity)",
                )
            )
            break
    return reasons


def _one_per_rule_and_field(reasons: list[Rejection]) -> list[Rejection]:
    seen: dict[tuple[str, str], Rejection] = {}
    for reason in reasons:
        seen.setdefault((reason.field, reason.rule), reason)
    return list(seen.values())


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _strings(value: Any, level: int = 0) -> list[str]:
    if level > MAX_DEPTH:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v, level + 1))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, level + 1)]
    return []


def _numbers(value: Any, level: int = 0) -> list[int | float]:
    if level > MAX_DEPTH:
        return []
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v, level + 1)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v, level + 1)]
    return []


def _storable(number: int | float) -> bool:
    if isinstance(number, float) and not math.isfinite(number):
        return False
    exact = Decimal(repr(number) if isinstance(number, float) else number)
    # Significant digits, counted without normalize() (which rounds to 28 of them).
    significant = "".join(map(str, exact.as_tuple().digits)).strip("0")
    return len(significant) <= _MAX_DIGITS and abs(exact.adjusted()) <= 125


def _text(number: int | float) -> str:
    shown = repr(number)
    return shown if len(shown) <= 60 else f"{shown[:40]}… ({len(shown)} characters)"


def kept_values(values: dict[str, Any]) -> dict[str, Any]:
    """A reject's values as stored: bounded, every cut marked, nothing a store refuses."""
    kept: dict[str, Any] = {}
    for number, (field, value) in enumerate(values.items()):
        if number == MAX_KEPT_FIELDS:
            kept["…"] = f"{len(values) - MAX_KEPT_FIELDS} more fields not kept"
            break
        kept[_kept_text(str(field))] = _kept(value, 0)
    return kept


def _kept(value: Any, level: int) -> Any:
    if isinstance(value, str):
        return _kept_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value if _storable(value) else _text(value)
    if level >= MAX_DEPTH:
        return _kept_text(to_json(value, inf_nan_mode="constants").decode())
    if isinstance(value, dict):
        return {_kept_text(str(k)): _kept(v, level + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [_kept(v, level + 1) for v in value[:50]]
    return _kept_text(str(value))


def _kept_text(text: str) -> str:
    text = text.replace("\x00", "\\u0000")
    if len(text) <= MAX_KEPT_VALUE_CHARS:
        return text
    return f"{text[:MAX_KEPT_VALUE_CHARS]}… [cut: {len(text):,} characters]"


def kept_reasons(reasons: list[Rejection]) -> list[Rejection]:
    """A reject's reasons as stored: the first ``MAX_KEPT_REASONS``, and a count of the rest."""
    if len(reasons) <= MAX_KEPT_REASONS:
        return [_short(r) for r in reasons]
    rest = len(reasons) - MAX_KEPT_REASONS + 1
    return [
        *(_short(r) for r in reasons[: MAX_KEPT_REASONS - 1]),
        Rejection(field="record", rule="more_reasons", message=f"and {rest} more reasons"),
    ]


def _short(reason: Rejection) -> Rejection:
    """A reason as stored: its field and message bounded, a NUL in them made visible."""
    field, message = _kept_text(reason.field[:200]), _kept_text(reason.message)
    if (field, message) == (reason.field, reason.message):
        return reason
    return Rejection(field=field, rule=reason.rule, message=message)
