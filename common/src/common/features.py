"""House features: the 12 numeric fields, a few derived ones, and stateless hashing of the text fields.

`HouseFeatures` is an sklearn transformer, fitted into the same Pipeline as the regressor and logged with it,
so serving uses exactly what training used. `transform_record` is the single-record path for the serving
hot path: plain Python and one numpy array, no pandas, and it gives the same numbers as `transform`
(only additions, comparisons and CRC32 hashing, so both paths are bit-identical).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from common.schema import NUMERIC_FIELDS, TEXT_FIELDS

DEFAULT_HASH_BUCKETS: dict[str, int] = {"street": 16, "city": 32, "statezip": 64, "country": 4}
DERIVED_FEATURES: tuple[str, ...] = ("was_renovated", "last_built_or_renovated", "has_basement")


def normalised_text(value: Any) -> str:
    """The text a house's price may depend on: lower case, every run of whitespace one space, none around it
    ("18810  Densmore Ave N " and "18810 densmore ave n" are the same street)."""
    return " ".join(str(value).split()).lower()


def hash_bucket(field: str, value: Any, buckets: int) -> int:
    """Stable across processes and machines (unlike `hash()`), insensitive to case and spacing. Both transform
    paths hash through here, so they normalise alike."""
    token = f"{field}={normalised_text(value)}".encode()
    return zlib.crc32(token) % buckets


class HouseFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types
    """Stateless: `fit` learns nothing, so the same instance transforms training and serving data alike."""

    def __init__(
        self,
        street_buckets: int = DEFAULT_HASH_BUCKETS["street"],
        city_buckets: int = DEFAULT_HASH_BUCKETS["city"],
        statezip_buckets: int = DEFAULT_HASH_BUCKETS["statezip"],
        country_buckets: int = DEFAULT_HASH_BUCKETS["country"],
    ):
        self.street_buckets = street_buckets
        self.city_buckets = city_buckets
        self.statezip_buckets = statezip_buckets
        self.country_buckets = country_buckets

    def _buckets(self) -> dict[str, int]:
        return {
            "street": self.street_buckets,
            "city": self.city_buckets,
            "statezip": self.statezip_buckets,
            "country": self.country_buckets,
        }

    def _offsets(self) -> dict[str, int]:
        offset = len(NUMERIC_FIELDS) + len(DERIVED_FEATURES)
        offsets = {}
        for name in TEXT_FIELDS:
            offsets[name] = offset
            offset += self._buckets()[name]
        return offsets

    @property
    def n_features(self) -> int:
        return len(NUMERIC_FIELDS) + len(DERIVED_FEATURES) + sum(self._buckets().values())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [*NUMERIC_FIELDS, *DERIVED_FEATURES]
        for name in TEXT_FIELDS:
            names += [f"{name}_hash_{i}" for i in range(self._buckets()[name])]
        return np.asarray(names, dtype=object)

    def fit(self, X: Any, y: Any = None) -> HouseFeatures:
        self.n_features_in_ = len(NUMERIC_FIELDS) + len(TEXT_FIELDS)
        return self

    def transform(self, X: pd.DataFrame | list[Mapping[str, Any]]) -> np.ndarray:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(list(X))
        n = len(frame)
        out = np.zeros((n, self.n_features), dtype=np.float64)
        numeric = frame.loc[:, list(NUMERIC_FIELDS)].to_numpy(dtype=np.float64)
        k = len(NUMERIC_FIELDS)
        out[:, :k] = numeric
        built = numeric[:, NUMERIC_FIELDS.index("yr_built")]
        renovated = numeric[:, NUMERIC_FIELDS.index("yr_renovated")]
        basement = numeric[:, NUMERIC_FIELDS.index("sqft_basement")]
        out[:, k] = renovated > 0
        out[:, k + 1] = np.maximum(built, renovated)
        out[:, k + 2] = basement > 0
        rows = np.arange(n)
        buckets, offsets = self._buckets(), self._offsets()
        for name in TEXT_FIELDS:
            # Hash each distinct value once; pd.factorize numbers the rows by value (C speed, no per-row Python).
            codes, uniques = pd.factorize(frame[name].astype(str))
            per_unique = np.fromiter((hash_bucket(name, v, buckets[name]) for v in uniques), np.int64, len(uniques))
            out[rows, offsets[name] + per_unique[codes]] = 1.0
        return out

    def transform_record(self, record: Mapping[str, Any]) -> np.ndarray:
        """One validated record to a (1, n_features) array, without pandas."""
        values = [float(record[name]) for name in NUMERIC_FIELDS]
        built, renovated = float(record["yr_built"]), float(record["yr_renovated"])
        values += [float(renovated > 0), max(built, renovated), float(float(record["sqft_basement"]) > 0)]
        out = np.zeros((1, self.n_features), dtype=np.float64)
        out[0, : len(values)] = values
        buckets, offsets = self._buckets(), self._offsets()
        for name in TEXT_FIELDS:
            out[0, offsets[name] + hash_bucket(name, record[name], buckets[name])] = 1.0
        return out
