"""The house record: 16 input fields plus the price, with per-field rules a person can read.

The same rule table drives the single-record check (HTTP input, events) and the vectorised check of whole
CSV files (`common.csv_validation`), so both say the same thing about the same value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
MAX_TEXT_LENGTH = 200
LATEST_YEAR = 2100


@dataclass(frozen=True)
class FieldSpec:
    """One input field: its type, the range a real house can have, and how a form presents it."""

    name: str
    kind: str  # "int", "float" or "text"
    label: str
    example: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None

    @property
    def is_text(self) -> bool:
        return self.kind == "text"


INPUT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("bedrooms", "float", "Bedrooms", 3, 0, 50, 1),
    FieldSpec("bathrooms", "float", "Bathrooms", 2.25, 0, 50, 0.25),
    FieldSpec("sqft_living", "int", "Living area (sq ft)", 1980, 1, 100_000, 1),
    FieldSpec("sqft_lot", "int", "Lot size (sq ft)", 7680, 1, 100_000_000, 1),
    FieldSpec("floors", "float", "Floors", 1.5, 1, 10, 0.5),
    FieldSpec("waterfront", "int", "Waterfront (0 = no, 1 = yes)", 0, 0, 1, 1),
    FieldSpec("view", "int", "View rating (0-4)", 0, 0, 4, 1),
    FieldSpec("condition", "int", "Condition (1-5)", 3, 1, 5, 1),
    FieldSpec("sqft_above", "int", "Area above ground (sq ft)", 1590, 0, 100_000, 1),
    FieldSpec("sqft_basement", "int", "Basement area (sq ft)", 390, 0, 100_000, 1),
    FieldSpec("yr_built", "int", "Year built", 1976, 1700, LATEST_YEAR, 1),
    FieldSpec("yr_renovated", "int", "Year renovated (0 = never)", 0, 0, LATEST_YEAR, 1),
    FieldSpec("street", "text", "Street", "18810 Densmore Ave N"),
    FieldSpec("city", "text", "City", "Shoreline"),
    FieldSpec("statezip", "text", "State and ZIP", "WA 98133"),
    FieldSpec("country", "text", "Country", "USA"),
)
PRICE = FieldSpec("price", "float", "Price (USD)", 462000, 0, 1_000_000_000)

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in INPUT_FIELDS)
NUMERIC_FIELDS: tuple[str, ...] = tuple(f.name for f in INPUT_FIELDS if not f.is_text)
TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in INPUT_FIELDS if f.is_text)
TRAINING_COLUMNS: tuple[str, ...] = (*FIELD_NAMES, PRICE.name)
FIELDS_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in (*INPUT_FIELDS, PRICE)}


class RecordInvalid(ValueError):
    """A record broke one or more field rules; `fields` maps each bad field to its message."""

    def __init__(self, fields: dict[str, str]):
        self.fields = fields
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in fields.items()))


def _number(spec: FieldSpec, raw: Any) -> tuple[float | int | None, str | None]:
    if isinstance(raw, bool):
        return None, "must be a number, not true/false"
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None, "is required"
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None, f"must be a number (got {str(raw)[:40]!r})"
    if not math.isfinite(value):
        return None, "must be a finite number"
    if spec.kind == "int":
        if value != int(value):
            return None, f"must be a whole number (got {value:g})"
        value = int(value)
    if spec.minimum is not None and value < spec.minimum:
        return None, f"must be at least {spec.minimum:g} (got {value:g})"
    if spec.name == PRICE.name and value <= 0:
        return None, f"must be greater than 0 (got {value:g})"
    if spec.maximum is not None and value > spec.maximum:
        return None, f"must be at most {spec.maximum:g} (got {value:g})"
    return value, None


def _text(raw: Any) -> tuple[str | None, str | None]:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return None, "must be text"
    value = str(raw).strip()
    if not value:
        return None, "is required"
    if len(value) > MAX_TEXT_LENGTH:
        return None, f"must be at most {MAX_TEXT_LENGTH} characters (got {len(value)})"
    return value, None


def cross_field_errors(record: Mapping[str, Any]) -> dict[str, str]:
    """Rules that involve two fields; applied only when both fields passed their own rules."""
    errors: dict[str, str] = {}
    built, renovated = record.get("yr_built"), record.get("yr_renovated")
    if isinstance(built, int) and isinstance(renovated, int) and 0 < renovated < built:
        errors["yr_renovated"] = f"cannot be before yr_built ({built}); use 0 for never renovated"
    living, above = record.get("sqft_living"), record.get("sqft_above")
    if isinstance(living, int) and isinstance(above, int) and above > living:
        errors["sqft_above"] = f"cannot exceed sqft_living ({living})"
    return errors


def validate_record(raw: Mapping[str, Any], *, require_price: bool = False) -> dict[str, Any]:
    """Return the record with typed, trimmed values, or raise `RecordInvalid` naming every bad field.

    Unknown keys are ignored (the seed's CSVs carry a `date` column, forms carry a CSRF token).
    """
    if not isinstance(raw, Mapping):
        raise RecordInvalid({"record": "must be a JSON object with the house fields"})
    specs = (*INPUT_FIELDS, PRICE) if require_price else INPUT_FIELDS
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        if spec.name not in raw or raw[spec.name] is None:
            errors[spec.name] = "is required"
            continue
        value, error = _text(raw[spec.name]) if spec.is_text else _number(spec, raw[spec.name])
        if error:
            errors[spec.name] = error
        else:
            clean[spec.name] = value
    errors.update({k: v for k, v in cross_field_errors(clean).items() if k not in errors})
    if errors:
        raise RecordInvalid(errors)
    return clean


@dataclass
class RecordBatch:
    """A validated batch: the typed input values column by column, and the errors of the bad records by index.

    `columns` hold every record's values only when `errors` is empty (a batch with errors is refused whole)."""

    size: int  # records in the batch
    columns: dict[str, Any]  # numbers as numpy arrays (int64 for whole-number fields), texts as lists of str
    errors: dict[int, dict[str, str]]


def validate_records(raws: Sequence[Any]) -> RecordBatch:
    """`validate_record` for many records at once, with the same rules, values and messages.

    A column-wise screen passes the common case quickly: a record passes it only if every number is an int or
    float within its range (whole where the field is whole), every text is a str of allowed length, and the
    cross-field rules hold. Every record the screen does not pass goes through `validate_record`, which decides
    (it also accepts numbers written as text, for example) and words the errors.
    """
    n = len(raws)
    rows = [raw if isinstance(raw, Mapping) else None for raw in raws]
    suspect = np.fromiter((row is None for row in rows), dtype=bool, count=n)
    rows = [{} if row is None else row for row in rows]
    columns: dict[str, Any] = {}
    for spec in INPUT_FIELDS:
        values = [row.get(spec.name) for row in rows]
        if spec.is_text:
            texts = [v.strip() if type(v) is str else "" for v in values]
            suspect |= np.fromiter((not 0 < len(t) <= MAX_TEXT_LENGTH for t in texts), dtype=bool, count=n)
            columns[spec.name] = texts
            continue
        try:
            numbers = np.array([v if type(v) is int or type(v) is float else math.nan for v in values], np.float64)
        except OverflowError:  # an int too large for a float: let the per-record rules word it
            numbers = np.full(n, math.nan)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(numbers) | (numbers < spec.minimum) | (numbers > spec.maximum)
            if spec.kind == "int":
                bad |= numbers != np.floor(numbers)
        suspect |= bad
        columns[spec.name] = np.where(bad, 0, numbers).astype(np.int64) if spec.kind == "int" else numbers
    built, renovated = columns["yr_built"], columns["yr_renovated"]
    suspect |= (renovated > 0) & (renovated < built)
    suspect |= columns["sqft_above"] > columns["sqft_living"]

    errors: dict[int, dict[str, str]] = {}
    for index in np.flatnonzero(suspect).tolist():
        try:
            clean = validate_record(raws[index])
        except RecordInvalid as exc:
            errors[index] = exc.fields
            continue
        for name, value in clean.items():
            columns[name][index] = value
    return RecordBatch(n, columns, errors)
