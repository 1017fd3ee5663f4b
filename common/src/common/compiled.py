"""One house, one call: the fitted regressor compiled for single-record prediction (mlapp compiles at load time;
the trainer compiles each candidate and checks it on the holdout before it may be promoted).

sklearn's `predict` validates its input on every call and, for histogram gradient boosting, calls into
compiled code once per tree. For one house that is ~1.6 ms of overhead (150 trees) around ~30 us of work, and
it is the whole cost of `POST /predict`. At load time the regressor is compiled into a form with no
per-call validation and one traversal call:

- `HistGradientBoostingRegressor`: every tree is copied into one node array under a small routing tree that
  sends row t to the root of tree t. sklearn's own traversal routine, called once on T copies of the
  feature row (one per tree), returns every tree's leaf value; their sum plus the baseline is the raw score.
- a linear model (optionally behind a `StandardScaler`): the scaler folded into one weight vector.
- `TransformedTargetRegressor` around either: its inverse function (expm1 for our log-price families).

Anything else is not compiled and mlapp calls the regressor's own `predict` (correct, only slower). Before a
compiled form is used, `compile_regressor` checks it against the regressor's own `predict` on probe rows that
fall on both sides of every split threshold; any difference beyond float rounding refuses the compiled form.

The boosting form reads sklearn's private tree arrays (`_predictors`, `_baseline_prediction`, the traversal
routine), so the `ml` extra pins scikit-learn's minor version. The supported runtimes measured against it are
not exact or not fast: ONNX Runtime serves float32 trees only (split flips at thresholds), treelite is exact
but ~3x slower a row (numbers in the README, "Performance").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Predict = Callable[[np.ndarray], float]  # one feature row (1-D, float64) -> the regressor's prediction

RELATIVE_TOLERANCE = 1e-9  # summation order differs from sklearn's (pairwise vs sequential): ~1e-15 seen
PROBE_ROWS = 256


class Verdict(StrEnum):
    COMPILED = "compiled"  # a fast form, checked equal to the regressor's own predict
    NOT_COMPILED = "not_compiled"  # an estimator this module does not compile: its own predict serves
    DISAGREES = "disagrees"  # compiled, but not equal to the regressor's own predict: refused


@dataclass(frozen=True)
class Compiled:
    predict: Predict | None  # None unless the verdict is COMPILED
    verdict: Verdict
    detail: str = ""


def compile_checked(regressor: Any, probes: np.ndarray, seed: int = 0) -> Compiled:
    """Compile `regressor` and check the result against `regressor.predict` on `probes` (real feature rows: the
    example house at serving, the whole holdout at training) and on rows built from the model's own split
    thresholds. The trainer refuses to promote a version whose verdict is DISAGREES."""
    try:
        compiled = _compile(regressor)
    except Exception as exc:  # an estimator or sklearn version this module does not know: not an error
        return Compiled(None, Verdict.NOT_COMPILED, f"{type(exc).__name__}: {exc}")
    if compiled is None:
        return Compiled(None, Verdict.NOT_COMPILED, f"{type(regressor).__name__} is not compiled")
    predict, thresholds = compiled
    rows = np.vstack([probes, _threshold_probes(thresholds, probes, np.random.default_rng(seed))])
    expected = np.asarray(regressor.predict(rows), dtype=np.float64).ravel()
    got = np.array([predict(row) for row in rows])
    if not np.allclose(got, expected, rtol=RELATIVE_TOLERANCE, atol=0.0):
        worst = int(np.argmax(np.abs(got - expected)))
        detail = f"row {worst} of {len(rows)}: {got[worst]!r} compiled, {expected[worst]!r} from predict"
        return Compiled(None, Verdict.DISAGREES, detail)
    return Compiled(predict, Verdict.COMPILED, f"equal on {len(rows)} rows")


def compile_regressor(regressor: Any, probes: np.ndarray, seed: int = 0) -> Predict | None:
    """A fast single-row predict equal to `regressor.predict` (checked), or None when there is none."""
    result = compile_checked(regressor, probes, seed)
    if result.verdict is Verdict.DISAGREES:
        log.warning("compiled regressor disagrees with its own predict; not used", extra={"detail": result.detail})
    elif result.verdict is Verdict.NOT_COMPILED:
        log.info("regressor not compiled; its own predict serves", extra={"reason": result.detail})
    return result.predict


def _compile(regressor: Any) -> tuple[Predict, dict[int, np.ndarray]] | None:
    """(predict, {feature index: split thresholds}) or None for an estimator this module does not compile."""
    from sklearn.compose import TransformedTargetRegressor

    if isinstance(regressor, TransformedTargetRegressor):
        inner = _compile(regressor.regressor_)
        transformer = regressor.transformer_
        inverse = getattr(transformer, "inverse_func", None)
        plain = type(transformer).__name__ == "FunctionTransformer" and not getattr(transformer, "inv_kw_args", None)
        if inner is None or inverse is None or not plain:
            return None
        predict_inner, thresholds = inner
        return (lambda row: float(inverse(np.array([[predict_inner(row)]]))[0, 0])), thresholds
    kind = type(regressor).__name__
    if kind == "HistGradientBoostingRegressor":
        return _compile_boosting(regressor)
    if kind == "Pipeline" or hasattr(regressor, "coef_"):
        return _compile_linear(regressor)
    return None


def _compile_linear(regressor: Any) -> tuple[Predict, dict[int, np.ndarray]] | None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [step for _, step in regressor.steps] if isinstance(regressor, Pipeline) else [regressor]
    *scalers, model = steps
    coef = np.asarray(getattr(model, "coef_", None), dtype=np.float64)
    if coef.ndim != 1 or any(not isinstance(s, StandardScaler) for s in scalers) or len(scalers) > 1:
        return None
    intercept = float(np.ravel(model.intercept_)[0]) if np.ndim(model.intercept_) else float(model.intercept_)
    weights = coef.copy()
    if scalers:
        scaler = scalers[0]
        scale = scaler.scale_ if scaler.with_std else np.ones_like(coef)
        mean = scaler.mean_ if scaler.with_mean else np.zeros_like(coef)
        weights = coef / scale
        intercept -= float(np.dot(weights, mean))
    return (lambda row: float(np.dot(row, weights)) + intercept), {}


def _compile_boosting(model: Any) -> tuple[Predict, dict[int, np.ndarray]] | None:
    from sklearn.ensemble._hist_gradient_boosting._predictor import _predict_from_raw_data
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE, X_BITSET_INNER_DTYPE

    trees = [iteration[0] for iteration in model._predictors if len(iteration) == 1]
    if len(trees) != len(model._predictors) or not trees:
        return None  # several trees per iteration: a classifier or a multi-output loss
    if any(tree.nodes["is_categorical"].any() for tree in trees):
        return None  # categorical splits need bitsets; our features are numeric
    n_trees = len(trees)
    splits = [tree.nodes[tree.nodes["is_leaf"] == 0] for tree in trees]
    used = np.unique(np.concatenate([s["feature_idx"] for s in splits]))
    column = np.zeros(int(used.max()) + 1 if len(used) else 1, dtype=np.uint32)
    column[used] = np.arange(1, len(used) + 1)  # column 0 of the copied rows holds the tree number

    routing = _routing_nodes(n_trees)
    starts = len(routing) + np.concatenate([[0], np.cumsum([len(t.nodes) for t in trees])[:-1]])
    nodes = np.zeros(len(routing) + sum(len(t.nodes) for t in trees), dtype=PREDICTOR_RECORD_DTYPE)
    for i, (threshold, left, right) in enumerate(routing):
        nodes[i]["num_threshold"] = threshold
        nodes[i]["left"] = left if left >= 0 else starts[-left - 1]
        nodes[i]["right"] = right if right >= 0 else starts[-right - 1]
    for tree, start in zip(trees, starts, strict=True):
        copied = tree.nodes.copy()
        inner = copied["is_leaf"] == 0
        copied["left"][inner] += np.uint32(start)
        copied["right"][inner] += np.uint32(start)
        copied["feature_idx"][inner] = column[copied["feature_idx"][inner]]
        nodes[start : start + len(copied)] = copied

    tree_numbers = np.arange(n_trees, dtype=np.float64)
    no_bitsets = np.zeros((0, 8), dtype=X_BITSET_INNER_DTYPE)
    no_feature_map = np.zeros(0, dtype=np.uint32)
    baseline = float(np.ravel(model._baseline_prediction)[0])
    link_inverse = model._loss.link.inverse

    def predict(row: np.ndarray) -> float:
        rows = np.empty((n_trees, len(used) + 1))  # per call: gunicorn threads predict at the same time
        rows[:, 0] = tree_numbers
        rows[:, 1:] = row[used]
        leaves = np.empty(n_trees)
        _predict_from_raw_data(nodes, rows, no_bitsets, no_bitsets, no_feature_map, 1, leaves)
        return float(link_inverse(baseline + leaves.sum()))

    thresholds = {int(f): np.concatenate([s["num_threshold"][s["feature_idx"] == f] for s in splits]) for f in used}
    return predict, thresholds


def _routing_nodes(n_trees: int) -> list[tuple[float, int, int]]:
    """A balanced binary tree over tree numbers: (threshold on column 0, left, right); a child < 0 is tree -child-1.

    Node 0 is the root, as sklearn's traversal expects."""
    if n_trees == 1:
        return [(np.inf, -1, -1)]  # always left, to tree 0
    nodes: list[tuple[float, int, int]] = []

    def build(low: int, high: int) -> int:
        if high - low == 1:
            return -low - 1
        index = len(nodes)
        nodes.append((0.0, 0, 0))
        middle = (low + high) // 2
        nodes[index] = (middle - 0.5, build(low, middle), build(middle, high))
        return index

    build(0, n_trees)
    return nodes


def _threshold_probes(thresholds: dict[int, np.ndarray], probes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows whose split features sit just below or just above one of the model's own thresholds."""
    rows = probes[rng.integers(0, len(probes), PROBE_ROWS)].copy()
    for feature, values in thresholds.items():
        picked = values[rng.integers(0, len(values), PROBE_ROWS)]
        nudge = np.where(rng.random(PROBE_ROWS) < 0.5, -1.0, 1.0) * np.maximum(np.abs(picked), 1.0) * 1e-6
        rows[:, feature] = picked + nudge
    return rows
