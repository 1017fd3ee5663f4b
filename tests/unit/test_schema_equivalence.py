"""The three validators derived from the rule table (one record, a batch, a CSV file) give the same verdict and
the same message on the same input, for generated records that mix valid, boundary and hostile values."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.csv_validation import validate_csv
from common.schema import (
    INPUT_FIELDS,
    PRICE,
    TRAINING_COLUMNS,
    FieldSpec,
    RecordInvalid,
    validate_record,
    validate_records,
)

MISSING = object()
CSV_SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=210)


def _numbers(spec: FieldSpec) -> st.SearchStrategy[Any]:
    low, high = spec.minimum, spec.maximum
    edges = [low, high, low - 1, high + 1, low - 0.5, high + 0.5, low + 0.5]
    plain = st.one_of(
        st.integers(int(low) - 2, int(min(high, 10**6)) + 2),
        st.floats(low - 2, min(high, 10**6) + 2),
        st.sampled_from(edges),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**30), 10**30),
        st.just(10**400),
    )
    as_text = plain.map(lambda v: f" {v} " if isinstance(v, int) else repr(v))
    odd = st.sampled_from(["", "  ", "abc", "1_000", "1e3", "0x10", "nan", "-inf", None, True, False, [], {}])
    return st.one_of(plain, plain, as_text, odd)


def _texts() -> st.SearchStrategy[Any]:
    return st.one_of(
        CSV_SAFE_TEXT,
        st.sampled_from(["", "   ", " 1 Main St ", "x" * 200, " " + "y" * 201]),
        st.integers(),
        st.floats(allow_nan=False),
        st.sampled_from([None, True, [], {}]),
    )


def _record(with_price: bool) -> st.SearchStrategy[dict[str, Any]]:
    specs = (*INPUT_FIELDS, PRICE) if with_price else INPUT_FIELDS
    fields = {spec.name: st.one_of(st.just(MISSING), _texts() if spec.is_text else _numbers(spec)) for spec in specs}
    valid = {spec.name: st.just(spec.example) for spec in specs}
    # Mostly-valid records with one or two odd fields find boundaries; fully random ones find odd mixes.
    mixed = st.fixed_dictionaries(valid).flatmap(
        lambda base: st.fixed_dictionaries(
            {name: st.one_of(st.just(value), st.just(value), fields[name]) for name, value in base.items()}
        )
    )
    return st.one_of(mixed, st.fixed_dictionaries(fields)).map(
        lambda r: {name: value for name, value in r.items() if value is not MISSING}
    )


def verdict(raw: Any, **kwargs: Any) -> dict[str, Any] | dict[str, str]:
    try:
        return {"ok": validate_record(raw, **kwargs)}
    except RecordInvalid as exc:
        return {"errors": exc.fields}


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_record(False), st.sampled_from([None, [], "house", 3])), min_size=1, max_size=8))
def test_batch_gives_the_per_record_verdict_and_values(raws: list[Any]) -> None:
    batch = validate_records(raws)
    for index, raw in enumerate(raws):
        expected = verdict(raw)
        if "errors" in expected:
            assert batch.errors[index] == expected["errors"]
            continue
        assert index not in batch.errors
        if not batch.errors:  # the columns hold every record's values only for a batch without errors
            for name, value in expected["ok"].items():
                got = batch.columns[name][index]
                got = got.item() if hasattr(got, "item") else got
                assert same_value(got, value), (name, got, value)


def _csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


def _csv_safe(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record(True), min_size=1, max_size=6))
def test_csv_gives_the_per_record_verdict_and_message(records: list[dict[str, Any]]) -> None:
    rows = [
        {name: _csv_cell(r.get(name)) for name in TRAINING_COLUMNS}
        for r in records
        if all(_csv_safe(v) for v in r.values())
    ]
    rows = [row for row in rows if any(cell.strip() for cell in row.values())]  # blank lines are skipped
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TRAINING_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    report = validate_csv(text.encode(), "generated.csv")
    lines = [reader_line for reader_line in _line_numbers(text)]
    expected = [verdict(row, require_price=True) for row in rows]
    rejected = {r.line: r.reason for r in report.rejected}
    accepted = iter(report.accepted.to_dict(orient="records"))
    for line, outcome in zip(lines, expected, strict=True):
        if "errors" in outcome:
            assert rejected.pop(line) == str(RecordInvalid(outcome["errors"]))
            continue
        row = next(accepted)
        for name, value in outcome["ok"].items():
            got = row[name].item() if hasattr(row[name], "item") else row[name]
            assert same_value(got, value), (name, got, value)
    assert rejected == {} and next(accepted, None) is None


def _line_numbers(text: str) -> list[int]:
    """The line on which each data row of `text` ends (as `csv.reader.line_num` counts, the header is line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    numbers = []
    for _row in reader:
        numbers.append(reader.line_num)
    return numbers
