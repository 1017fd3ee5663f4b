"""The compiled single-row predict (mlapp serves it, the trainer checks it before promotion) gives the
regressor's own numbers, for every family we ship, and refuses what it cannot reproduce."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from common.compiled import Verdict, _routing_nodes, compile_checked, compile_regressor
from common.schema import FIELD_NAMES
from common.training import build_pipeline
from common.training.family import load_family
from mlapp.model_holder import ServingModel
from tests import mlapp_fixtures as fx

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
FAMILY_FOLDERS = sorted(p.name for p in MODELS_DIR.iterdir() if (p / "family.py").exists())


@cache
def shipped_pipeline(family: str) -> Pipeline:
    """The family exactly as `train` builds it (its own PARAMS), fitted on the sample data."""
    frame = fx.sample_frame()
    pipeline = build_pipeline(load_family(MODELS_DIR / family))
    with threadpool_limits(limits=1):
        pipeline.fit(frame.loc[:, list(FIELD_NAMES)], frame["price"].to_numpy(dtype=np.float64))
    return pipeline


def sample_matrix(pipeline: Pipeline) -> np.ndarray:
    frame = fx.sample_frame().loc[:, list(FIELD_NAMES)]
    return pipeline.named_steps["features"].transform(frame)


@pytest.mark.parametrize("family", FAMILY_FOLDERS)
def test_every_shipped_family_compiles_and_matches_its_own_predict_on_every_sample_house(family: str) -> None:
    pipeline = shipped_pipeline(family)
    rows = sample_matrix(pipeline)
    regressor = pipeline.named_steps["model"]
    compiled = compile_regressor(regressor, rows[:5])
    assert compiled is not None, f"{family} was not compiled"
    expected = regressor.predict(rows)
    got = np.array([compiled(row) for row in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


def test_serving_model_uses_the_compiled_form_and_prices_like_the_pipeline() -> None:
    pipeline = shipped_pipeline("gradient_boosting")
    model = ServingModel.from_pipeline(pipeline, {"name": "house-price", "version": 1, "family": "gradient_boosting"})
    assert model.compiled is not None
    records = fx.sample_records(50, offset=100)
    expected = pipeline.predict(fx.sample_frame().loc[:, list(FIELD_NAMES)].iloc[100:150])
    got = [model.predict_one(r) for r in records]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


def test_a_boosting_model_with_one_tree_routes_every_row_to_it() -> None:
    rows = sample_matrix(shipped_pipeline("gradient_boosting"))
    target = np.log1p(fx.sample_frame()["price"].to_numpy(dtype=np.float64))
    with threadpool_limits(limits=1):
        model = HistGradientBoostingRegressor(max_iter=1, random_state=0).fit(rows, target)
    compiled = compile_regressor(model, rows[:3])
    assert compiled is not None
    np.testing.assert_allclose([compiled(r) for r in rows[:200]], model.predict(rows[:200]), rtol=1e-12)


@pytest.mark.parametrize("n_trees", [1, 2, 3, 7, 150])
def test_routing_tree_sends_each_tree_number_to_its_own_tree(n_trees: int) -> None:
    nodes = _routing_nodes(n_trees)
    for number in range(n_trees):
        child = 0
        while child >= 0:
            threshold, left, right = nodes[child]
            child = left if number <= threshold else right
        assert -child - 1 == number


class OffByOneRidge(Ridge):
    """Predicts one dollar more than its coefficients say: a compiled form must notice and refuse itself."""

    def predict(self, X):
        return super().predict(X) + 1.0


def test_a_compiled_form_that_disagrees_with_predict_is_refused() -> None:
    rows = sample_matrix(shipped_pipeline("linear_regression"))
    model = OffByOneRidge(alpha=1.0).fit(rows, np.log1p(fx.sample_frame()["price"].to_numpy()))
    assert compile_regressor(model, rows[:5]) is None
    checked = compile_checked(model, rows[:5])
    assert checked.verdict is Verdict.DISAGREES and "compiled" in checked.detail and checked.predict is None


def test_the_verdicts_the_trainer_records() -> None:
    pipeline = shipped_pipeline("gradient_boosting")
    rows = sample_matrix(pipeline)
    assert compile_checked(pipeline.named_steps["model"], rows).verdict is Verdict.COMPILED
    knn = KNeighborsRegressor().fit(rows[:50], np.arange(50.0))
    assert compile_checked(knn, rows[:5]).verdict is Verdict.NOT_COMPILED


def test_an_estimator_it_does_not_know_is_served_by_its_own_predict() -> None:
    rows = sample_matrix(shipped_pipeline("linear_regression"))
    knn = TransformedTargetRegressor(regressor=KNeighborsRegressor(), func=np.log1p, inverse_func=np.expm1)
    knn.fit(rows[:500], fx.sample_frame()["price"].to_numpy()[:500])
    assert compile_regressor(knn, rows[:5]) is None
    pipeline = Pipeline([("features", shipped_pipeline("linear_regression").named_steps["features"]), ("model", knn)])
    model = ServingModel.from_pipeline(pipeline, {"name": "house-price", "version": 2, "family": "knn"})
    assert model.compiled is None
    record = fx.sample_records(1)[0]
    assert model.predict_one(record) == pytest.approx(float(pipeline.predict(fx.sample_frame().iloc[:1])[0]))


def test_the_private_arrays_it_reads_are_pinned_to_one_scikit_learn_minor_version() -> None:
    """The boosting form reads HistGradientBoosting's private tree arrays: an update must be deliberate."""
    import tomllib

    extra = tomllib.loads((MODELS_DIR.parent / "common" / "pyproject.toml").read_text())["project"]
    (requirement,) = [r for r in extra["optional-dependencies"]["ml"] if r.startswith("scikit-learn")]
    assert "<" in requirement, requirement
