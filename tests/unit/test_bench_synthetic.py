"""The bench's synthetic house records: valid for the platform, distinct, reproducible, in the sample's layout."""

from __future__ import annotations

import csv
import io

import pytest

from common.csv_validation import validate_csv
from common.schema import FIELD_NAMES, validate_record
from platform_bench import synthetic


@pytest.fixture(scope="module")
def upload() -> bytes:
    return synthetic.csv_bytes(20_000, seed=1)


def test_every_synthetic_row_passes_the_platforms_csv_validation(upload: bytes) -> None:
    report = validate_csv(upload, "synthetic.csv")

    assert report.rejected == []
    assert len(report.accepted) == 20_000


def test_the_csv_has_the_samples_columns_in_the_samples_order(upload: bytes) -> None:
    sample_header = synthetic.SAMPLE_CSV.read_text().splitlines()[0]

    assert upload.decode().splitlines()[0] == sample_header


def test_the_csv_is_what_pandas_would_write(upload: bytes) -> None:
    assert upload == synthetic.frame(20_000, seed=1).to_csv(index=False).encode()


def test_rows_are_distinct_and_not_copies_of_the_sample(upload: bytes) -> None:
    rows = list(csv.reader(io.StringIO(upload.decode())))[1:]
    sample = synthetic.SAMPLE_CSV.read_text().splitlines()[1:]

    assert len({tuple(r) for r in rows}) == len(rows)
    assert not {",".join(r) for r in rows} & set(sample)


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows(upload: bytes) -> None:
    assert synthetic.csv_bytes(20_000, seed=1) == upload
    assert synthetic.csv_bytes(20_000, seed=2) != upload


def test_values_spread_like_the_sample() -> None:
    sample = validate_csv(synthetic.SAMPLE_CSV.read_bytes(), "data.csv").accepted
    rows = synthetic.frame(20_000, seed=3)

    for name in ("price", "sqft_living", "sqft_lot", "yr_built", "bedrooms"):
        assert rows[name].median() == pytest.approx(sample[name].median(), rel=0.05), name
    assert set(rows["city"]) <= set(sample["city"])


def test_records_are_distinct_valid_request_bodies_without_the_price() -> None:
    records = synthetic.records(2_000, seed=4)

    assert len(records) == 2_000
    assert all(list(r) == list(FIELD_NAMES) for r in records)
    assert len({tuple(r.values()) for r in records}) == len(records)
    for record in records:
        assert validate_record(record) == record
    assert records == synthetic.records(2_000, seed=4)
