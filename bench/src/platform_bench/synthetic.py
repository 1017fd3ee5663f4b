"""Synthetic house records drawn from the sample data's distributions, for data volumes the sample lacks.

Each row starts as a valid sample row drawn at random (whole rows, so the fields keep their joint
distribution and cross-field rules such as `yr_renovated >= yr_built` hold), then gets noise: the living
area and the price scale together, the lot size and build year move a little. Every value stays inside the
schema's ranges, and the street's house number is the row's position, so no two records of one call are equal.
The same (n, seed) always gives the same rows.
"""

from __future__ import annotations

import functools
import io
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from common.csv_validation import validate_csv
from common.schema import FIELD_NAMES, FIELDS_BY_NAME, PRICE
from platform_bench.config import REPO_ROOT

SAMPLE_CSV = REPO_ROOT / "sample_dataset" / "data.csv"
_HOUSE_NUMBER = r"^[\d-]+\s+"  # "26206-26214 143rd Ave SE" -> "143rd Ave SE"


@functools.cache
def _sample() -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The sample rows that pass the platform's validation (typed), its `date` values, and its column order."""
    data = SAMPLE_CSV.read_bytes()
    rows = validate_csv(data, SAMPLE_CSV.name).accepted
    rows["street"] = rows["street"].str.replace(_HOUSE_NUMBER, "", regex=True)
    raw = pd.read_csv(SAMPLE_CSV, dtype=str, keep_default_na=False)
    return rows, raw["date"].drop_duplicates().to_numpy(), list(raw.columns)


def _clip(name: str, values: np.ndarray) -> np.ndarray:
    spec = FIELDS_BY_NAME[name]
    return cast(np.ndarray, np.clip(values, spec.minimum, spec.maximum))


def frame(n: int, seed: int) -> pd.DataFrame:
    """`n` distinct valid rows in the sample's column layout (`date`, `price`, then the input fields)."""
    sample, dates, columns = _sample()
    rng = np.random.default_rng(seed)
    rows = sample.iloc[rng.integers(0, len(sample), n)].reset_index(drop=True)

    size = np.exp(rng.normal(0.0, 0.08, n))
    living = _clip("sqft_living", np.rint(rows["sqft_living"].to_numpy() * size)).astype(np.int64)
    above_share = rows["sqft_above"].to_numpy() / rows["sqft_living"].to_numpy()
    above = np.minimum(np.rint(living * above_share).astype(np.int64), living)
    rows["sqft_living"], rows["sqft_above"], rows["sqft_basement"] = living, above, living - above
    lot = rows["sqft_lot"].to_numpy() * np.exp(rng.normal(0.0, 0.1, n))
    rows["sqft_lot"] = _clip("sqft_lot", np.rint(lot)).astype(np.int64)
    price = rows[PRICE.name].to_numpy() * size * np.exp(rng.normal(0.0, 0.05, n))
    rows[PRICE.name] = np.clip(np.rint(price), 1.0, PRICE.maximum)

    latest_built = int(sample["yr_built"].max())
    built = np.clip(
        rows["yr_built"].to_numpy() + rng.integers(-2, 3, n), FIELDS_BY_NAME["yr_built"].minimum, latest_built
    )
    renovated = rows["yr_renovated"].to_numpy()
    rows["yr_built"] = built.astype(np.int64)
    rows["yr_renovated"] = np.where(renovated > 0, np.maximum(renovated, built), 0).astype(np.int64)

    rows["street"] = pd.Series(np.arange(1, n + 1)).astype(str) + " " + rows["street"]
    rows["date"] = dates[rng.integers(0, len(dates), n)]
    return rows.loc[:, columns]


def _float_text(values: np.ndarray) -> pa.Array:
    """Floats as the sample (and `DataFrame.to_csv`) writes them: "3.0", "1.75", "313000.0". Whole numbers
    (every price) are formatted as integers plus ".0", others once per distinct value: formatting a million
    floats one by one takes seconds."""
    if np.all(values == np.rint(values)) and np.all(np.abs(values) < 1e15):
        whole = pa.array(values.astype(np.int64)).cast(pa.string())
        return pc.binary_join_element_wise(whole, pa.scalar(".0"), "")
    distinct, position = np.unique(values, return_inverse=True)
    return pa.array(distinct.astype(str)).take(pa.array(position))


def csv_bytes(n: int, seed: int) -> bytes:
    """`frame(n, seed)` as a CSV file like the sample: the same bytes as `to_csv(index=False)`, several times
    faster (Arrow's writer; a value that would need quoting raises instead of being written)."""
    rows = frame(n, seed)
    columns = {
        name: _float_text(rows[name].to_numpy()) if rows[name].dtype.kind == "f" else pa.array(rows[name])
        for name in rows.columns
    }
    out = io.BytesIO()
    out.write((",".join(rows.columns) + "\n").encode())
    pa_csv.write_csv(pa.table(columns), out, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    return out.getvalue()


def records(n: int, seed: int) -> list[dict[str, Any]]:
    """`n` distinct valid request bodies for `POST /predict`: the 16 input fields, plain JSON types, no price."""
    return cast(list[dict[str, Any]], frame(n, seed).loc[:, list(FIELD_NAMES)].to_dict("records"))
