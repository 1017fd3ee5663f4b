"""Rows and instream batches for the data job's unit tests."""

from __future__ import annotations

import pandas as pd

from common.blobstore import FileBlobStore
from data_versioning import instream
from data_versioning.corrections import typed_frame
from data_versioning.split import SPLIT_COLUMN, assign_split

RECORD = {
    "bedrooms": 3.0, "bathrooms": 2.0, "sqft_living": 1500, "sqft_lot": 4000, "floors": 1.0, "waterfront": 0,
    "view": 0, "condition": 3, "sqft_above": 1500, "sqft_basement": 0, "yr_built": 1990, "yr_renovated": 0,
    "street": "1 Main St", "city": "Seattle", "statezip": "WA 98101", "country": "USA", "price": 400000.0,
}  # fmt: skip


def frame(n: int) -> pd.DataFrame:
    rows = typed_frame([{**RECORD, "price": 100000.0 + i} for i in range(n)])
    rows[SPLIT_COLUMN] = assign_split(rows, 0.8)
    return rows


def add_batch(store: FileBlobStore, seq: int, names: list[str], cursor: str | None) -> instream.BatchMarker:
    objects = [{"name": n, "generation": 1} for n in names]
    return instream.write_batch(
        store, instream.new_batch_id(seq), frame(5), landing_objects=objects, corrections_cursor=cursor, corrections=0
    )
