"""The house record: 16 input fields plus the price, and the one table of rules every validator is derived from.

Each rule is written once as a `Check` whose test works on a single value and, element-wise, on a numpy or
pandas column alike. Three validators are derived from the table:
- `validate_record`: one record (HTTP input, events, forms); decides and words every error;
- `validate_records`: a batch (`/predict/batch`, inference tensors), screened column-wise by `screen`;
- `common.csv_validation.validate_csv`: whole CSV files, screened column-wise by the same `screen`.
The screen only passes records certain to pass; every other record goes through `validate_record`, so a rule
added to the table reaches all three, with the same verdict and the same message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.contracts.base import InputInvalid

SCHEMA_VERSION = 1
JSON_KINDS: dict[type[object], str] = {dict: "an object", list: "an array"}
MAX_TEXT_LENGTH = 200
LATEST_YEAR = 2100


@dataclass(frozen=True)
class Check:
    """One rule: `holds(value)` is true where the rule is kept, for a number or a column of them (element-wise,
    so only `&`, `|`, `==` and comparisons are used); `message(value)` says what is wrong with one value."""

    holds: Callable[[Any], Any]
    message: Callable[[Any], str]


def _finite(v: Any) -> Any:
    return (v - v) == 0  # inf - inf and nan - nan are nan; written so it works on floats and arrays alike


def shown(v: float) -> str:
    """A number as a message shows it: whole numbers in full (1000000000, not 1e+09), others as `:g` does."""
    return str(int(v)) if v % 1 == 0 and abs(v) < 1e15 else f"{v:g}"


def _number_checks(kind: str, minimum: float, maximum: float, exclusive_minimum: bool) -> tuple[Check, ...]:
    low, high = shown(minimum), shown(maximum)
    checks = [Check(_finite, lambda v: "must be a finite number")]
    if kind == "int":
        checks.append(Check(lambda v: v % 1 == 0, lambda v: f"must be a whole number (got {shown(v)})"))
    if exclusive_minimum:
        checks.append(Check(lambda v: v > minimum, lambda v: f"must be greater than {low} (got {shown(v)})"))
    else:
        checks.append(Check(lambda v: v >= minimum, lambda v: f"must be at least {low} (got {shown(v)})"))
    checks.append(Check(lambda v: v <= maximum, lambda v: f"must be at most {high} (got {shown(v)})"))
    return tuple(checks)


# Text rules test the trimmed text's length.
TEXT_CHECKS: tuple[Check, ...] = (
    Check(lambda n: n > 0, lambda n: "is required"),
    Check(lambda n: n <= MAX_TEXT_LENGTH, lambda n: f"must be at most {MAX_TEXT_LENGTH} characters (got {n})"),
)


@dataclass(frozen=True)
class FieldSpec:
    """One field: its type, the range a real house can have, and how a form presents it."""

    name: str
    kind: str  # "int", "float" or "text"
    label: str
    example: Any
    minimum: float = 0
    maximum: float = 0
    step: float | None = None
    exclusive_minimum: bool = False  # the value must be greater than `minimum`, not equal to it
    checks: tuple[Check, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks = (
            TEXT_CHECKS
            if self.is_text
            else _number_checks(self.kind, self.minimum, self.maximum, self.exclusive_minimum)
        )
        object.__setattr__(self, "checks", checks)

    @property
    def is_text(self) -> bool:
        return self.kind == "text"


@dataclass(frozen=True)
class CrossCheck:
    """A rule between fields, applied once each field in `needs` passed its own rules; `holds` takes the record
    (or a mapping of columns) and the error is reported on `field`."""

    field: str
    needs: tuple[str, ...]
    holds: Callable[[Mapping[str, Any]], Any]
    message: Callable[[Mapping[str, Any]], str]


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
PRICE = FieldSpec("price", "float", "Price (USD)", 462000, 0, 1_000_000_000, exclusive_minimum=True)

CROSS_CHECKS: tuple[CrossCheck, ...] = (
    CrossCheck(
        "yr_renovated",
        ("yr_renovated", "yr_built"),
        lambda r: (r["yr_renovated"] == 0) | (r["yr_renovated"] >= r["yr_built"]),
        lambda r: f"cannot be before yr_built ({r['yr_built']}); use 0 for never renovated",
    ),
    CrossCheck(
        "sqft_above",
        ("sqft_above", "sqft_living"),
        lambda r: r["sqft_above"] <= r["sqft_living"],
        lambda r: f"cannot exceed sqft_living ({r['sqft_living']})",
    ),
)

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in INPUT_FIELDS)
NUMERIC_FIELDS: tuple[str, ...] = tuple(f.name for f in INPUT_FIELDS if not f.is_text)
TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in INPUT_FIELDS if f.is_text)
TRAINING_COLUMNS: tuple[str, ...] = (*FIELD_NAMES, PRICE.name)
FIELDS_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in (*INPUT_FIELDS, PRICE)}


class RecordInvalid(InputInvalid):
    """A record broke one or more field rules; `fields` maps each bad field to its message."""

    summary = "invalid house record"


def _first_broken(checks: tuple[Check, ...], value: Any) -> str | None:
    for check in checks:
        if not check.holds(value):
            return check.message(value)
    return None


def number_value(spec: FieldSpec, raw: Any) -> tuple[float | int | None, str | None]:
    """A number sent as JSON or typed as text -> (typed value, None) or (None, message)."""
    if isinstance(raw, bool):
        return None, "must be a number, not true/false"
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None, "is required"
    try:
        value = float(raw)
    except OverflowError:
        return None, f"must be at most {shown(spec.maximum)} (got a number with {len(str(raw))} digits)"
    except (TypeError, ValueError):
        # Containers are named, not printed: printing a deeply nested one would itself fail.
        got = repr(str(raw)[:40]) if isinstance(raw, str | int | float) else JSON_KINDS.get(type(raw), "a value")
        return None, f"must be a number (got {got})"
    error = _first_broken(spec.checks, value)
    if error:
        return None, error
    return (int(value) if spec.kind == "int" else value), None


def text_value(raw: Any) -> tuple[str | None, str | None]:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return None, "must be text"
    value = str(raw).strip()
    error = _first_broken(TEXT_CHECKS, len(value))
    return (None, error) if error else (value, None)


def cross_field_errors(record: Mapping[str, Any]) -> dict[str, str]:
    """The cross-field rules whose fields all passed their own rules."""
    return {
        rule.field: rule.message(record)
        for rule in CROSS_CHECKS
        if all(name in record for name in rule.needs) and not rule.holds(record)
    }


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
        value, error = text_value(raw[spec.name]) if spec.is_text else number_value(spec, raw[spec.name])
        if error:
            errors[spec.name] = error
        else:
            clean[spec.name] = value
    errors.update({k: v for k, v in cross_field_errors(clean).items() if k not in errors})
    if errors:
        raise RecordInvalid(errors)
    return clean


def validate_price(raw: Any) -> float:
    """One price (the `price` field's rules); `RecordInvalid` with the field `price` otherwise."""
    value, error = (None, "is required") if raw is None else number_value(PRICE, raw)
    if error:
        raise RecordInvalid({PRICE.name: error})
    return float(value)  # type: ignore[arg-type]


def screen(numbers: Mapping[str, Any], text_lengths: Mapping[str, Any], size: int) -> np.ndarray:
    """True for the records that may break a rule, from columns: `numbers` as float arrays (NaN where a value is
    not a plain number), `text_lengths` the trimmed texts' lengths. False only where every check holds."""
    suspect = np.zeros(size, dtype=bool)
    with np.errstate(invalid="ignore"):
        for name, values in numbers.items():
            for check in FIELDS_BY_NAME[name].checks:
                suspect |= ~np.asarray(check.holds(values), dtype=bool)
        for lengths in text_lengths.values():
            for check in TEXT_CHECKS:
                suspect |= ~np.asarray(check.holds(lengths), dtype=bool)
        for rule in CROSS_CHECKS:
            if all(name in numbers for name in rule.needs):
                suspect |= ~np.asarray(rule.holds(numbers), dtype=bool)
    return suspect


@dataclass
class RecordBatch:
    """A validated batch: the typed input values column by column, and the errors of the bad records by index.

    `columns` hold every record's values only when `errors` is empty (a batch with errors is refused whole)."""

    size: int  # records in the batch
    columns: dict[str, Any]  # numbers as numpy arrays (int64 for whole-number fields), texts as lists of str
    errors: dict[int, dict[str, str]]


def _plain_numbers(values: list[Any]) -> np.ndarray:
    """Plain JSON numbers as floats; anything else (text, bool, None, an int too large for a float) as NaN, which
    makes the record suspect so that `validate_record` decides."""
    try:
        return np.array([v if type(v) is int or type(v) is float else math.nan for v in values], np.float64)
    except OverflowError:
        big = 2.0**1000
        return np.array([v if type(v) is float or (type(v) is int and -big < v < big) else math.nan for v in values])


def validate_records(raws: Sequence[Any]) -> RecordBatch:
    """`validate_record` for many records at once, with the same rules, values and messages (see `screen`)."""
    n = len(raws)
    rows = [raw if isinstance(raw, Mapping) else {} for raw in raws]
    not_objects = np.fromiter((not isinstance(raw, Mapping) for raw in raws), dtype=bool, count=n)
    numbers: dict[str, np.ndarray] = {}
    texts: dict[str, list[str]] = {}
    for spec in INPUT_FIELDS:
        values = [row.get(spec.name) for row in rows]
        if spec.is_text:
            texts[spec.name] = [v.strip() if type(v) is str else "" for v in values]
        else:
            numbers[spec.name] = _plain_numbers(values)
    lengths = {name: np.fromiter(map(len, column), dtype=np.int64, count=n) for name, column in texts.items()}
    suspect = not_objects | screen(numbers, lengths, n)

    columns: dict[str, Any] = {**texts}
    for spec in INPUT_FIELDS:
        if not spec.is_text:
            filled = np.where(suspect, 0, numbers[spec.name])
            columns[spec.name] = filled.astype(np.int64) if spec.kind == "int" else filled
    errors: dict[int, dict[str, str]] = {}
    for index in np.flatnonzero(suspect).tolist():
        try:
            clean = validate_record(raws[index])
        except RecordInvalid as exc:
            errors[index] = exc.fields
            continue
        for name, value in clean.items():
            columns[name][index] = value
    return RecordBatch(n, {name: columns[name] for name in FIELD_NAMES}, errors)
