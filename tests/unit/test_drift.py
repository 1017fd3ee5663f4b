"""The reference profile and the PSI (`common.drift`): bins of known data, the profile's contract, and the index on
known distributions: the same houses score ~0, shifted houses score above 0.25, unseen text values land in
"other", an empty window has no index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from common.contracts.drift import CategoryShares, NumericBins, ReferenceProfile
from common.drift import (
    MAX_CATEGORIES,
    PROFILED_TEXT,
    Binner,
    bin_counts,
    expected_shares,
    field_psi,
    psi,
    quantile_edges,
    reference_profile,
    top_categories,
)
from common.schema import FIELD_NAMES, NUMERIC_FIELDS
from tests import mlapp_fixtures as fx

SHIFT_LIMIT = 0.25  # the usual "significant shift" reading of the PSI, and the alert's threshold


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    return fx.sample_frame().loc[:, list(FIELD_NAMES)].reset_index(drop=True)


@pytest.fixture(scope="module")
def profile(houses: pd.DataFrame) -> ReferenceProfile:
    return reference_profile(houses)


def scores(profile: ReferenceProfile, window: pd.DataFrame) -> dict[str, float]:
    binner = Binner.of(profile)
    found = field_psi(expected_shares(profile), bin_counts(binner.bins_columns(window), binner.sizes), binner.sizes)
    assert found is not None
    return dict(zip(profile.features, found.tolist(), strict=True))


def test_quantile_edges_are_data_values_and_collapse_for_few_distinct_values() -> None:
    assert quantile_edges(np.arange(1, 101, dtype=float)) == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert quantile_edges(np.array([0.0] * 95 + [1.0] * 5)) == [0.0]  # waterfront-like: "no" and "yes"
    assert quantile_edges(np.array([3.0] * 60 + [4.0] * 30 + [5.0] * 10)) == [3.0, 4.0]


def test_bins_are_open_at_both_ends_and_close_on_the_right() -> None:
    binner = Binner.from_bins({"sqft_living": [1000.0, 2000.0]}, {"city": ["seattle", "kent"]})
    assert binner.sizes == [3, 3]
    cases = [(1.0, 0), (1000, 0), (1000.5, 1), (2000, 1), (2001, 2), (10**9, 2)]
    for value, expected in cases:
        assert binner.bins_one({"sqft_living": value, "city": "Kent"})[0] == expected, value
    assert [binner.bins_one({"sqft_living": 1, "city": c})[1] for c in ("Seattle", " KENT ", "Atlantis")] == [0, 1, 2]


def test_the_profile_covers_every_numeric_field_and_the_location_text(
    houses: pd.DataFrame, profile: ReferenceProfile
) -> None:
    assert profile.rows == len(houses)
    assert list(profile.numeric) == list(NUMERIC_FIELDS) and tuple(profile.categorical) == PROFILED_TEXT
    assert "street" not in profile.features  # one value per house: it would be all "other"
    assert all(len(bins.edges) <= 9 for bins in profile.numeric.values())
    assert profile.numeric["waterfront"].edges == [0.0]
    sqft = houses["sqft_living"]
    assert profile.numeric["sqft_living"].shares[0] == pytest.approx(
        (sqft <= profile.numeric["sqft_living"].edges[0]).mean()
    )
    city = profile.categorical["city"]
    assert city.categories[0] == "seattle" and len(city.categories) == MAX_CATEGORIES
    assert city.shares[0] == pytest.approx((houses["city"].str.lower() == "seattle").mean())
    assert profile.categorical["country"] == CategoryShares(categories=["usa"], shares=[1.0, 0.0])
    assert ReferenceProfile.model_validate_json(profile.model_dump_json()) == profile  # what crosses MLflow


def test_top_categories_are_normalised_most_frequent_first_ties_by_value() -> None:
    values = ["Kent", " kent", "Seattle", "SEATTLE ", "seattle", "Auburn", "Bothell"]
    assert top_categories(values, limit=3) == ["seattle", "kent", "auburn"]


def test_single_and_column_paths_give_the_same_bins(houses: pd.DataFrame, profile: ReferenceProfile) -> None:
    binner = Binner.of(profile)
    window = houses.iloc[100:300]
    rows = [binner.bins_one(r) for r in fx.sample_records(200, offset=100)]
    assert binner.bins_columns(window).tolist() == rows
    assert binner.bins_columns(window, slice(150, 200)).tolist() == rows[150:]


def test_the_training_houses_themselves_score_zero_and_a_sample_of_them_scores_low(
    houses: pd.DataFrame, profile: ReferenceProfile
) -> None:
    assert all(value == pytest.approx(0, abs=1e-12) for value in scores(profile, houses).values())
    sample = houses.sample(1000, random_state=1, replace=True)
    assert max(scores(profile, sample).values()) < 0.1


def test_shifted_houses_score_above_the_limit_on_the_shifted_fields_only(
    houses: pd.DataFrame, profile: ReferenceProfile
) -> None:
    shifted = houses.sample(1000, random_state=2).assign(
        sqft_living=lambda f: f["sqft_living"] * 2, sqft_above=lambda f: f["sqft_above"] * 2
    )
    found = scores(profile, shifted)
    assert found["sqft_living"] > SHIFT_LIMIT and found["sqft_above"] > SHIFT_LIMIT
    assert all(found[name] < 0.1 for name in ("bedrooms", "yr_built", "city", "statezip")), found
    newer = houses.sample(1000, random_state=3).assign(yr_built=2015, yr_renovated=0)
    assert scores(profile, newer)["yr_built"] > SHIFT_LIMIT


def test_unseen_text_values_fall_in_other(houses: pd.DataFrame, profile: ReferenceProfile) -> None:
    elsewhere = houses.sample(1000, random_state=4).assign(city="Atlantis", statezip="ZZ 00000")
    found = scores(profile, elsewhere)
    assert found["city"] > SHIFT_LIMIT and found["statezip"] > SHIFT_LIMIT and found["sqft_living"] < 0.1
    other = len(profile.categorical["city"].categories)
    assert set(Binner.of(profile).bins_columns(elsewhere)[:, profile.features.index("city")]) == {other}


def test_psi_of_known_shares_and_of_an_empty_window() -> None:
    expected = np.array([0.5, 0.5])
    assert psi(expected, np.array([50, 50])) == 0
    assert psi(expected, np.array([90, 10])) == pytest.approx(0.4 * np.log(0.9 / 0.5) - 0.4 * np.log(0.1 / 0.5))
    assert psi(expected, np.array([0, 0])) is None
    # An empty bin counts as rare (floored at 1e-4), not as infinitely different.
    assert 0.25 < psi(expected, np.array([100, 0])) < 5  # type: ignore[operator]
    # Every field at once: the same numbers as field by field.
    two = field_psi(np.array([0.5, 0.5, 0.2, 0.3, 0.5]), np.array([90, 10, 20, 30, 50]), [2, 3])
    assert two is not None and two.tolist() == [psi(expected, np.array([90, 10])), 0.0]
    assert field_psi(np.array([0.5, 0.5, 1.0]), np.zeros(3, dtype=np.int64), [2, 1]) is None


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (NumericBins, {"edges": [1.0, 1.0], "shares": [0.5, 0.0, 0.5]}),
        (NumericBins, {"edges": [2.0, 1.0], "shares": [0.5, 0.0, 0.5]}),
        (NumericBins, {"edges": [1.0], "shares": [0.5, 0.4]}),
        (NumericBins, {"edges": [1.0], "shares": [1.0]}),
        (NumericBins, {"edges": [float("nan")], "shares": [0.5, 0.5]}),
        (CategoryShares, {"categories": ["kent", "kent"], "shares": [0.5, 0.5, 0.0]}),
        (CategoryShares, {"categories": ["kent"], "shares": [1.5, -0.5]}),
    ],
)
def test_the_profile_contract_refuses_inconsistent_bins(model: type, fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        model(**fields)
