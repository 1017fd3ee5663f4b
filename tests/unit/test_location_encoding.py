"""Target-encoded location: one price-level column per field, cross-fitted on the training rows, the same numbers
through the batch and the single-record paths, unseen and messy values handled, and a model that still loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io

from common import registry
from common.csv_validation import validate_csv
from common.features import HouseFeatures
from common.location_encoding import cross_fitted, fit_tables
from common.schema import NUMERIC_FIELDS

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"
CITY = len(NUMERIC_FIELDS) + 3  # the first encoded column, after the numeric and derived ones


def sample() -> pd.DataFrame:
    return validate_csv(SAMPLE.read_bytes(), "data.csv").accepted


def fitted(frame: pd.DataFrame) -> HouseFeatures:
    return HouseFeatures(location="target", smoothing=5.0).fit(frame, frame["price"])


def test_one_column_per_encoded_field_and_no_hashed_buckets() -> None:
    features = fitted(sample())
    names = list(features.get_feature_names_out())
    assert names[CITY : CITY + 2] == ["city_price_level", "statezip_price_level"]
    assert len(names) == features.n_features == len(NUMERIC_FIELDS) + 3 + 2
    assert not any("_hash_" in name for name in names)


def test_the_single_record_path_equals_the_batch_path() -> None:
    frame = sample()
    features = fitted(frame)
    batch = features.transform(frame)
    for i, record in enumerate(frame.head(300).to_dict(orient="records")):
        assert np.array_equal(features.transform_record(record)[0], batch[i]), f"row {i} differs"


def test_a_value_is_its_smoothed_mean_log_price_and_an_unseen_one_the_prior() -> None:
    values = np.array(["a", "a", "a", "b"], dtype=object)
    target = np.log1p(np.array([100.0, 100.0, 100.0, 1000.0]))
    tables = fit_tables({"city": values}, target, smoothing=1.0)
    assert tables.prior == pytest.approx(target.mean())
    assert tables.by_field["city"]["a"] == pytest.approx((3 * np.log1p(100.0) + tables.prior) / 4)
    features = fitted(sample())
    unseen = {**sample().iloc[0].to_dict(), "city": "Atlantis", "statezip": "ZZ 00000"}
    row = features.transform_record(unseen)[0]
    assert row[CITY] == row[CITY + 1] == features.prior_


def test_training_rows_are_encoded_without_their_own_price() -> None:
    """Cross-fitting: a city seen once gets the prior on its own training row, never its own price back."""
    frame = sample()
    lonely = frame.iloc[[0]].assign(city="Only Once", price=9_000_000.0)
    both = pd.concat([frame.iloc[1:], lonely], ignore_index=True)
    features = HouseFeatures(location="target", smoothing=5.0)
    training = features.fit_transform(both, both["price"])
    assert training[-1, CITY] != features.encodings_["city"]["only once"]  # the kept table did see it
    columns = {"city": np.array(["x", "y"] * 50, dtype=object)}
    target = np.arange(100, dtype=np.float64)
    encoded = cross_fitted(columns, target, smoothing=0.0, folds=5)
    assert not np.allclose(encoded[:, 0], [target[0::2].mean(), target[1::2].mean()] * 50)


def test_case_and_spacing_never_change_an_encoding() -> None:
    frame = sample().head(60)
    features = fitted(sample())
    messy = frame.assign(
        city=[f"  {c.upper()}\t" for c in frame["city"]], statezip=[f"{z}  " for z in frame["statezip"]]
    )
    assert np.array_equal(features.transform(messy), features.transform(frame))


def test_fitting_without_prices_or_with_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="fit it with y"):
        HouseFeatures(location="target").fit(sample())
    with pytest.raises(ValueError, match="location must be one of hash, target"):
        HouseFeatures(location="onehot").fit(sample())


def test_the_fitted_tables_persist_without_a_new_trusted_type() -> None:
    features = fitted(sample())
    dumped = skops.io.dumps(features)
    assert set(skops.io.get_untrusted_types(data=dumped)) <= set(registry.TRUSTED_TYPES)
    loaded = skops.io.loads(dumped, trusted=list(registry.TRUSTED_TYPES))
    assert np.array_equal(loaded.transform(sample().head(20)), features.transform(sample().head(20)))
