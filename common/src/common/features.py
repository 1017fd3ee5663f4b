"""House features: the 12 numeric fields, a few derived ones, and the location text.

The location text is encoded one of two ways (`location`):
- "hash": stateless hashing of street, city, statezip and country into one-hot buckets;
- "target": city and statezip each as one column, the smoothed mean log-price of the training houses that share
  the value (`common.location_encoding`: cross-fitted while training, unseen values get the overall mean).

`HouseFeatures` is an sklearn transformer, fitted into the same Pipeline as the regressor and logged with it,
so serving uses exactly what training used. `transform_record` is the single-record path for the serving
hot path: plain Python and one numpy array, no pandas, and it gives the same numbers as `transform`
(only additions, comparisons, CRC32 hashing and table lookups, so both paths are bit-identical).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from common import location_encoding as le
from common.location_encoding import normalised_text
from common.schema import NUMERIC_FIELDS, TEXT_FIELDS

DEFAULT_HASH_BUCKETS: dict[str, int] = {"street": 16, "city": 32, "statezip": 64, "country": 4}
Columns = Mapping[str, Any]  # field name -> its values in row order (a DataFrame's columns, or plain sequences)
DERIVED_FEATURES: tuple[str, ...] = ("was_renovated", "last_built_or_renovated", "has_basement")
LOCATION_MODES = ("hash", "target")
TARGET_ENCODED: tuple[str, ...] = ("city", "statezip")


def hash_bucket(field: str, value: Any, buckets: int) -> int:
    """Stable across processes and machines (unlike `hash()`), insensitive to case and spacing. Both transform
    paths hash through here, so they normalise alike."""
    token = f"{field}={normalised_text(value)}".encode()
    return zlib.crc32(token) % buckets


class HouseFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types
    """With `location="hash"` stateless (`fit` learns nothing); with "target", `fit` learns the encoding tables
    (`encodings_`, `prior_`), and `fit_transform` on the training rows gives cross-fitted encodings."""

    def __init__(
        self,
        street_buckets: int = DEFAULT_HASH_BUCKETS["street"],
        city_buckets: int = DEFAULT_HASH_BUCKETS["city"],
        statezip_buckets: int = DEFAULT_HASH_BUCKETS["statezip"],
        country_buckets: int = DEFAULT_HASH_BUCKETS["country"],
        location: str = "hash",
        smoothing: float = 20.0,
        folds: int = 5,
    ):
        self.street_buckets = street_buckets
        self.city_buckets = city_buckets
        self.statezip_buckets = statezip_buckets
        self.country_buckets = country_buckets
        self.location = location
        self.smoothing = smoothing
        self.folds = folds

    @property
    def _hashed(self) -> tuple[str, ...]:
        return TEXT_FIELDS if self.location == "hash" else ()

    @property
    def _encoded(self) -> tuple[str, ...]:
        return TARGET_ENCODED if self.location == "target" else ()

    def _buckets(self) -> dict[str, int]:
        return {
            "street": self.street_buckets,
            "city": self.city_buckets,
            "statezip": self.statezip_buckets,
            "country": self.country_buckets,
        }

    def _offsets(self) -> dict[str, int]:
        offset = len(NUMERIC_FIELDS) + len(DERIVED_FEATURES) + len(self._encoded)
        offsets = {}
        for name in self._hashed:
            offsets[name] = offset
            offset += self._buckets()[name]
        return offsets

    @property
    def n_features(self) -> int:
        hashed = sum(self._buckets()[name] for name in self._hashed)
        return len(NUMERIC_FIELDS) + len(DERIVED_FEATURES) + len(self._encoded) + hashed

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [*NUMERIC_FIELDS, *DERIVED_FEATURES, *(f"{name}_price_level" for name in self._encoded)]
        for name in self._hashed:
            names += [f"{name}_hash_{i}" for i in range(self._buckets()[name])]
        return np.asarray(names, dtype=object)

    def fit(self, X: Any, y: Any = None) -> HouseFeatures:
        if self.location not in LOCATION_MODES:
            raise ValueError(f"location must be one of {', '.join(LOCATION_MODES)}, got {self.location!r}")
        self.n_features_in_ = len(NUMERIC_FIELDS) + len(TEXT_FIELDS)
        if self._encoded:
            tables = le.fit_tables(self._location_columns(_frame(X)), _log_target(y), self.smoothing)
            self.prior_, self.encodings_ = tables.prior, tables.by_field
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """The training rows: with target encoding, each row's location columns come from tables that did not
        see its own price (cross-fitting); what serving sees later comes from the tables `fit` keeps."""
        frame = _frame(X)
        self.fit(frame, y)
        if not self._encoded:
            return self.transform(frame)
        columns = self._location_columns(frame)
        encoded = le.cross_fitted(columns, _log_target(y), self.smoothing, self.folds)
        return self._transform(frame, encoded)

    def _location_columns(self, frame: Columns) -> dict[str, np.ndarray]:
        return {name: le.normalised_column(frame[name]) for name in self._encoded}

    def transform(self, X: pd.DataFrame | list[Mapping[str, Any]] | Columns) -> np.ndarray:
        """Rows as a DataFrame, a list of records, or a mapping of columns (each field's values in row order, as
        `common.schema.validate_records` gives them: the batch route needs no DataFrame)."""
        frame = X if isinstance(X, Mapping) else _frame(X)
        encoded = [le.encode_raw(frame[name], self.encodings_[name], self.prior_) for name in self._encoded]
        return self._transform(frame, np.column_stack(encoded) if encoded else None)

    def _transform(self, frame: Columns, encoded: np.ndarray | None) -> np.ndarray:
        """`encoded`: the (rows, encoded fields) location columns, from the kept tables or cross-fitted."""
        n = len(frame[NUMERIC_FIELDS[0]])
        out = np.zeros((n, self.n_features), dtype=np.float64)
        k = len(NUMERIC_FIELDS)
        for j, name in enumerate(NUMERIC_FIELDS):
            out[:, j] = np.asarray(frame[name], dtype=np.float64)
        numeric = out[:, :k]
        built = numeric[:, NUMERIC_FIELDS.index("yr_built")]
        renovated = numeric[:, NUMERIC_FIELDS.index("yr_renovated")]
        basement = numeric[:, NUMERIC_FIELDS.index("sqft_basement")]
        out[:, k] = renovated > 0
        out[:, k + 1] = np.maximum(built, renovated)
        out[:, k + 2] = basement > 0
        if encoded is not None:
            out[:, k + len(DERIVED_FEATURES) : k + len(DERIVED_FEATURES) + encoded.shape[1]] = encoded
        rows = np.arange(n)
        buckets, offsets = self._buckets(), self._offsets()
        for name in self._hashed:
            # Hash each distinct value once; pd.factorize numbers the rows by value (C speed, no per-row Python).
            codes, uniques = pd.factorize(pd.Series(frame[name], dtype=object).astype(str))
            per_unique = np.fromiter((hash_bucket(name, v, buckets[name]) for v in uniques), np.int64, len(uniques))
            out[rows, offsets[name] + per_unique[codes]] = 1.0
        return out

    def transform_record(self, record: Mapping[str, Any]) -> np.ndarray:
        """One validated record to a (1, n_features) array, without pandas."""
        values = [float(record[name]) for name in NUMERIC_FIELDS]
        built, renovated = float(record["yr_built"]), float(record["yr_renovated"])
        values += [float(renovated > 0), max(built, renovated), float(float(record["sqft_basement"]) > 0)]
        values += [self.encodings_[name].get(normalised_text(record[name]), self.prior_) for name in self._encoded]
        out = np.zeros((1, self.n_features), dtype=np.float64)
        out[0, : len(values)] = values
        buckets, offsets = self._buckets(), self._offsets()
        for name in self._hashed:
            out[0, offsets[name] + hash_bucket(name, record[name], buckets[name])] = 1.0
        return out


def _frame(X: Any) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(list(X))


def _log_target(y: Any) -> np.ndarray:
    """Prices on the log scale the families fit on; target encoding cannot be fitted without them."""
    if y is None:
        raise ValueError('location="target" learns from the prices: fit it with y')
    return np.log1p(np.asarray(y, dtype=np.float64))
