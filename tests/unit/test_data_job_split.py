"""The data job's train/valid assignment is a pure function of a row's content."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from common.csv_validation import validate_csv
from data_versioning.corrections import typed_frame
from data_versioning.split import TRAIN, VALID, assign_split, row_fractions

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return validate_csv(SAMPLE.read_bytes(), "sample").accepted


def test_same_rows_get_the_same_split_in_any_order(rows: pd.DataFrame) -> None:
    first = assign_split(rows, 0.8)
    shuffled = rows.sample(frac=1.0, random_state=7)
    again = assign_split(shuffled, 0.8)
    assert (again.sort_index() == first).all()
    assert set(first.unique()) == {TRAIN, VALID}


def test_split_follows_the_configured_fraction(rows: pd.DataFrame) -> None:
    for fraction in (0.5, 0.8, 0.95):
        share = (assign_split(rows, fraction) == TRAIN).mean()
        assert abs(share - fraction) < 0.03, (fraction, share)


def test_a_larger_fraction_only_moves_rows_from_valid_to_train(rows: pd.DataFrame) -> None:
    at_70, at_90 = assign_split(rows, 0.7) == TRAIN, assign_split(rows, 0.9) == TRAIN
    assert (at_90 | ~at_70).all()


def test_identical_rows_share_a_split_and_any_change_rehashes(rows: pd.DataFrame) -> None:
    doubled = pd.concat([rows.head(50), rows.head(50)], ignore_index=True)
    split = assign_split(doubled, 0.8).to_numpy()
    assert (split[:50] == split[50:]).all()
    changed = rows.head(200).copy()
    changed["price"] = changed["price"] + 1
    assert (row_fractions(changed) != row_fractions(rows.head(200))).all()


def test_assignment_is_pinned_across_releases(rows: pd.DataFrame) -> None:
    """Changing the hash would send rerun rows to the other side: this pins the first rows' fractions."""
    assert [round(float(f), 6) for f in row_fractions(rows.head(3))] == PINNED


def test_no_rows() -> None:
    assert len(assign_split(typed_frame([]), 0.8)) == 0


PINNED = [0.813688, 0.663395, 0.897382]
