"""Scores of a model on a set of rows: MAE, RMSE, R², and the sanity facts promotion depends on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    rows: int
    mae: float
    rmse: float
    r2: float
    non_finite: int  # predictions that are NaN or infinite
    non_positive: int  # predictions <= 0 (a price never is)

    @property
    def sane(self) -> bool:
        return self.rows > 0 and self.non_finite == 0 and self.non_positive == 0

    def metrics(self, prefix: str) -> dict[str, float | int]:
        """`{prefix_mae, prefix_rmse, prefix_r2, prefix_rows}` for MLflow metrics and model-version tags."""
        return {f"{prefix}_{k}": getattr(self, k) for k in ("mae", "rmse", "r2", "rows")}


def evaluate(y_true: np.ndarray, y_pred: np.ndarray) -> Evaluation:
    """Scores over every row; with any non-finite prediction the error metrics are NaN (never a number
    computed on a subset that would flatter the model)."""
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_pred)} predictions for {len(y_true)} rows")
    finite = np.isfinite(y_pred)
    non_finite = int((~finite).sum())
    non_positive = int((y_pred[finite] <= 0).sum())
    if len(y_true) == 0 or non_finite:
        return Evaluation(len(y_true), float("nan"), float("nan"), float("nan"), non_finite, non_positive)
    errors = y_pred - y_true
    total = float(((y_true - y_true.mean()) ** 2).sum())
    r2 = 1.0 - float((errors**2).sum()) / total if total > 0 else float("nan")
    return Evaluation(
        rows=len(y_true),
        mae=float(np.abs(errors).mean()),
        rmse=float(np.sqrt((errors**2).mean())),
        r2=r2,
        non_finite=0,
        non_positive=non_positive,
    )


def median_baseline_mae(y_train: np.ndarray, y_holdout: np.ndarray) -> float:
    """MAE of predicting the training median for every holdout row: the bar every candidate must clear."""
    median = float(np.median(np.asarray(y_train, dtype=np.float64)))
    return float(np.abs(np.asarray(y_holdout, dtype=np.float64) - median).mean())
