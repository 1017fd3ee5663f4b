"""Target encoding of location text (city, statezip): each value becomes the smoothed mean log-price of the
training houses that share it, so one column carries what hashing spread over dozens of one-hot buckets.

- Smoothed toward the overall mean by `smoothing` pseudo-houses: a city seen twice moves only a little from
  the prior, a city seen a thousand times stands on its own. An unseen value is the prior.
- Cross-fitted on the training rows: `cross_fitted` encodes each fold with tables learned from the other folds,
  so no row sees its own price; the model then learns how far to trust the column, as it will have to on new
  houses. The tables kept for serving (`fit_tables`) are learned from every training row.
- Keys are `normalised_text` values, so case and spacing never change an encoding.

Tables are plain `dict[str, float]`: they persist with the model (skops) without any new trusted type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


def normalised_text(value: object) -> str:
    """The text a house's price may depend on: lower case, every run of whitespace one space, none around it
    ("18810  Densmore Ave N " and "18810 densmore ave n" are the same street)."""
    return " ".join(str(value).split()).lower()


@dataclass(frozen=True)
class Tables:
    prior: float
    by_field: dict[str, dict[str, float]]


def normalised_column(values: Iterable[object]) -> np.ndarray:
    """Each distinct raw value normalised once."""
    memo: dict[object, str] = {}
    return np.asarray([memo[v] if v in memo else memo.setdefault(v, normalised_text(v)) for v in values], dtype=object)


def fit_tables(columns: Mapping[str, np.ndarray], target: np.ndarray, smoothing: float) -> Tables:
    """Per field, each normalised value's smoothed mean of `target` (already on the log scale)."""
    prior = float(np.mean(target))
    by_field = {}
    for name, values in columns.items():
        stats = pd.DataFrame({"key": values, "y": target}).groupby("key", sort=False)["y"].agg(["sum", "count"])
        means = (stats["sum"] + smoothing * prior) / (stats["count"] + smoothing)
        by_field[name] = {str(key): float(value) for key, value in means.items()}
    return Tables(prior, by_field)


def encode(values: np.ndarray, table: Mapping[str, float], prior: float) -> np.ndarray:
    """Normalised values to their encodings; a value the table does not hold is the prior."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    per_unique = np.fromiter((table.get(str(u), prior) for u in uniques), np.float64, len(uniques))
    return per_unique[np.asarray(codes, dtype=np.intp)]


def encode_raw(values: Iterable[object], table: Mapping[str, float], prior: float) -> np.ndarray:
    """Raw (not yet normalised) values to their encodings, each distinct value normalised and looked up once:
    `encode(normalised_column(values), ...)` in one pass, the batch serving path."""
    memo: dict[object, float] = {}
    return np.fromiter(
        (memo[v] if v in memo else memo.setdefault(v, table.get(normalised_text(v), prior)) for v in values),
        np.float64,
    )


def cross_fitted(
    columns: Mapping[str, np.ndarray], target: np.ndarray, smoothing: float, folds: int, seed: int = 0
) -> np.ndarray:
    """(rows, fields) encodings in which every row's value comes from tables fitted without its fold."""
    n = len(target)
    out = np.empty((n, len(columns)), dtype=np.float64)
    fold_of = np.random.default_rng(seed).permutation(n) % max(2, min(folds, n))
    for fold in np.unique(fold_of):
        held, rest = fold_of == fold, fold_of != fold
        tables = fit_tables({name: values[rest] for name, values in columns.items()}, target[rest], smoothing)
        for j, (name, values) in enumerate(columns.items()):
            out[held, j] = encode(values[held], tables.by_field[name], tables.prior)
    return out
