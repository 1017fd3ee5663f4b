"""Behavioural tests of every model family, beside the quality gate (test_model_quality.py): on the sample
houses, a bigger house, a waterfront and a better condition raise the predicted price, and the price ignores
the letter case and spacing of the text fields (criteria in tests/model_behaviour.py). Each family is fitted
once for the module, exactly as `train` builds it, on every sample row.

The same checks must fail deliberately broken families: one trained on shuffled prices, ones that read a
feature backwards at prediction time, and features that hash text without normalising it. The registered
champion is checked in test_training_pipeline.py."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from common import features
from common.features import HouseFeatures
from common.schema import FIELD_NAMES
from common.training import FamilySpec, build_pipeline, discover_families
from tests import model_behaviour as behaviour
from tests.integration import training_support as support

pytestmark = pytest.mark.integration

FAMILIES = discover_families(support.MODELS)


def _fit(spec: FamilySpec, houses: pd.DataFrame, prices: np.ndarray) -> Pipeline:
    with threadpool_limits(limits=1):  # as the trainer fits (TRAIN_THREADS=1)
        return build_pipeline(spec).fit(houses, prices)


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    return support.sample_rows().loc[:, list(FIELD_NAMES)]


@pytest.fixture(scope="module")
def prices() -> np.ndarray:
    return support.sample_rows()["price"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def fitted(houses: pd.DataFrame, prices: np.ndarray) -> Callable[[str], Pipeline]:
    """Each shipped family fitted once for the module, when a test first asks for it."""
    cache: dict[str, Pipeline] = {}

    def get(family: str) -> Pipeline:
        if family not in cache:
            cache[family] = _fit(FAMILIES[family], houses, prices)
        return cache[family]

    return get


@pytest.mark.parametrize("check", list(behaviour.DIRECTIONAL))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_moves_the_price_the_right_way(
    family: str, check: str, fitted: Callable[[str], Pipeline], houses: pd.DataFrame
) -> None:
    effect = behaviour.effect(fitted(family).predict, check, houses)
    assert effect.holds, f"{family}: {effect}"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_prices_ignore_text_case_and_spacing(
    family: str, fitted: Callable[[str], Pipeline], houses: pd.DataFrame
) -> None:
    assert behaviour.invariance_breaks(fitted(family).predict, houses) == {}, family


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_family_trained_on_shuffled_prices_fails_the_directional_checks(
    family: str, houses: pd.DataFrame, prices: np.ndarray
) -> None:
    shuffled = _fit(FAMILIES[family], houses, np.random.default_rng(0).permutation(prices))
    effects = behaviour.directional_effects(shuffled.predict, houses)
    assert not any(e.holds for e in effects), "; ".join(map(str, effects))


class ReadsBackwards(RegressorMixin, BaseEstimator):
    """A broken regressor: fitted as `regressor` is, but at prediction time it reads some feature columns
    reflected around their training mean (more becomes less), as a feature wired backwards in serving would.
    Prices stay in a plausible range, so only the behaviour gives it away."""

    def __init__(self, regressor: Any = None, columns: tuple[int, ...] = ()) -> None:
        self.regressor = regressor
        self.columns = columns

    def fit(self, X: np.ndarray, y: np.ndarray) -> ReadsBackwards:
        self.regressor_ = clone(self.regressor).fit(X, y)
        self.means_ = np.asarray(X)[:, list(self.columns)].mean(axis=0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        reflected = np.array(X, dtype=np.float64)
        reflected[:, list(self.columns)] = 2 * self.means_ - reflected[:, list(self.columns)]
        return self.regressor_.predict(reflected)


@pytest.mark.parametrize("check", list(behaviour.DIRECTIONAL))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_family_reading_an_input_backwards_fails_that_check(
    family: str, check: str, houses: pd.DataFrame, prices: np.ndarray
) -> None:
    spec = FAMILIES[family]
    names = list(HouseFeatures(**spec.features).get_feature_names_out())
    changed = behaviour.DIRECTIONAL[check].fields
    columns = tuple(names.index(name) for name in changed)
    broken = FamilySpec(f"{family}_backwards", lambda: ReadsBackwards(spec.estimator(), columns), {}, spec.features)
    effect = behaviour.effect(_fit(broken, houses, prices).predict, check, houses)
    assert not effect.holds, f"{family} reading {changed} backwards passed: {effect}"


def _raw_hash(field: str, value: Any, buckets: int) -> int:
    return zlib.crc32(f"{field}={value}".encode()) % buckets


def _stripped_lowered_hash(field: str, value: Any, buckets: int) -> int:
    """The normalisation before repeated inner spaces were collapsed."""
    return zlib.crc32(f"{field}={str(value).strip().lower()}".encode()) % buckets


@pytest.mark.parametrize(
    ("hasher", "expected"),
    [
        (_raw_hash, {"street upper case", "street lower case", "street padded", "street inner spaces repeated"}),
        (_stripped_lowered_hash, {"street inner spaces repeated"}),
    ],
    ids=["raw", "no-inner-collapse"],
)
def test_features_hashing_unnormalised_text_fail_the_invariance_check(
    monkeypatch: pytest.MonkeyPatch,
    houses: pd.DataFrame,
    prices: np.ndarray,
    hasher: Callable[..., int],
    expected: set[str],
) -> None:
    """Country is not among the expected breaks: every sample house is in the USA, so no model learns
    anything from it and a different bucket cannot move a price."""
    monkeypatch.setattr(features, "hash_bucket", hasher)
    pipeline = _fit(FAMILIES["linear_regression"], houses, prices)
    breaks = behaviour.invariance_breaks(pipeline.predict, houses)
    assert expected <= set(breaks), breaks
    assert not any(key.startswith("country") for key in breaks)
