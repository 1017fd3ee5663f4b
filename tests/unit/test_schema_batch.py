"""`validate_records` (the batch path of mlapp) says exactly what `validate_record` says, record by record."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from common.schema import INPUT_FIELDS, RecordInvalid, validate_record, validate_records
from tests import mlapp_fixtures as fx

ODD_VALUES: list[Any] = [
    None, "", "   ", " 3 ", "3.5", "abc", True, False, -1, 0, 0.5, 1.25, 2.0, 10**30, 1e300, math.nan, math.inf,
    "x" * 201, " Seattle ", 98133, 2.5, [], {}, "1e3",
]  # fmt: skip


def mutated_records(count: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    records: list[Any] = []
    for base in fx.sample_records(count):
        record = dict(base)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            name = rng.choice(INPUT_FIELDS).name
            if rng.random() < 0.1:
                record.pop(name, None)
            else:
                record[name] = rng.choice(ODD_VALUES)
        if rng.random() < 0.05:
            record["yr_renovated"] = int(record["yr_built"]) - 1 if isinstance(record.get("yr_built"), int) else 5
        if rng.random() < 0.05:
            record["sqft_above"] = 10**6 - 1
        records.append(record)
    records[7] = "not a record"
    records[11] = ["a", "list"]
    return records


def test_valid_sample_records_pass_with_the_values_validate_record_gives() -> None:
    records = fx.sample_records(500)
    batch = validate_records(records)
    assert batch.errors == {}
    assert batch.size == 500
    for index, record in enumerate(records):
        clean = validate_record(record)
        for name, value in clean.items():
            got = batch.columns[name][index]
            assert got == value and isinstance(got, str) == isinstance(value, str), (index, name, got, value)
    assert batch.columns["yr_built"].dtype == np.int64
    assert batch.columns["bathrooms"].dtype == np.float64


@pytest.mark.parametrize("seed", range(5))
def test_every_record_gets_the_same_verdict_and_message_as_validate_record(seed: int) -> None:
    records = mutated_records(600, seed)
    batch = validate_records(records)
    invalid = 0
    for index, record in enumerate(records):
        try:
            clean = validate_record(record)
        except RecordInvalid as exc:
            invalid += 1
            assert batch.errors.get(index) == exc.fields, index
            continue
        assert index not in batch.errors
        for name, value in clean.items():
            assert batch.columns[name][index] == value, (index, name)
    assert 0 < invalid < len(records)  # the mix really holds both kinds


def test_an_empty_batch_is_valid_and_empty() -> None:
    batch = validate_records([])
    assert batch.size == 0 and batch.errors == {}
    assert all(len(column) == 0 for column in batch.columns.values())
