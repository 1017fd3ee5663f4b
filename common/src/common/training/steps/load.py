"""Step 1: the committed dataset versions as train and holdout rows.

The holdout is the valid splits of every committed version up to the one trained on, so the candidate and
the champion are always scored on the same rows."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.blobstore import BlobStore
from common.dataset_versions import committed_versions, load_versions
from common.schema import FIELD_NAMES, PRICE
from common.training.job import Job, seconds_since

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rows:
    """Input fields (the schema's, in order) and prices."""

    x: pd.DataFrame
    y: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Rows:
        return cls(frame.loc[:, list(FIELD_NAMES)], frame[PRICE.name].to_numpy(dtype=np.float64))

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    bucket: str  # the datasets bucket's URL
    versions: list[int]  # every committed version loaded (1..N)
    train: Rows
    holdout: Rows


def latest_version(store: BlobStore) -> int | None:
    """The newest committed dataset version, or None when nothing is committed yet."""
    manifests = committed_versions(store)
    return manifests[-1].version if manifests else None


def load_dataset(store: BlobStore, job: Job) -> Dataset:
    """Train and holdout rows of every committed version up to `job.dataset_version`."""
    started = time.monotonic()
    log.info("loading dataset versions", extra=job.extra(bucket=store.url))
    train, holdout, versions = load_versions(store, up_to=job.dataset_version)
    dataset = Dataset(store.url, versions, Rows.of(train), Rows.of(holdout))
    log.info(
        "loaded dataset versions",
        extra=job.extra(
            versions=versions, train_rows=len(train), holdout_rows=len(holdout), seconds=seconds_since(started)
        ),
    )
    return dataset
