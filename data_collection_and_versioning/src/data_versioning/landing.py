"""Raw CSV objects in the landing bucket: which ones are new, and reading one into validated rows.

An object is identified by (name, generation). Once a committed instream batch or a version manifest records
that pair, the object is never read again; a re-upload gets a new generation and is new data. The job never
deletes or changes anything in the landing bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pandas as pd

from common.blobstore import BlobInfo, BlobNotFound, BlobStore
from common.csv_validation import FileInvalid
from data_versioning import quarantine
from data_versioning.chunking import validate_large_csv

log = logging.getLogger(__name__)

ObjectId = tuple[str, int]


def object_id(entry: dict[str, Any]) -> ObjectId:
    return str(entry["name"]), int(entry["generation"])


def is_landing_csv(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.lower().endswith(".csv") and not base.startswith(".")


def new_objects(store: BlobStore, consumed: Collection[ObjectId]) -> tuple[list[BlobInfo], list[str]]:
    """CSV objects not consumed yet (oldest name first), and the names of objects that are not CSV."""
    fresh, ignored = [], []
    for blob in store.list():
        if not is_landing_csv(blob.name):
            ignored.append(blob.name)
        elif (blob.name, blob.generation) not in consumed:
            fresh.append(blob)
    return fresh, ignored


@dataclass
class LandingResult:
    name: str
    generation: int
    accepted: pd.DataFrame
    rejected: int = 0
    invalid: str | None = None  # why the whole file was quarantined

    def record(self) -> dict[str, Any]:
        """What the instream marker and the manifest keep about this object."""
        entry: dict[str, Any] = {
            "name": self.name,
            "generation": self.generation,
            "accepted": len(self.accepted),
            "rejected": self.rejected,
        }
        if self.invalid:
            entry["invalid"] = self.invalid
        return entry


def read_object(landing: BlobStore, datasets: BlobStore, blob: BlobInfo) -> LandingResult | None:
    """Validate one landing object; bad rows (or the whole file) go to the quarantine. None if it vanished."""
    try:
        data = landing.read(blob.name)
    except BlobNotFound:
        log.warning("landing object disappeared before it could be read", extra={"object": blob.name})
        return None
    source = f"{landing.url}/{blob.name}"
    try:
        report = validate_large_csv(data, source)
    except FileInvalid as exc:
        target = quarantine.quarantine_file(datasets, blob.name, blob.generation, data, str(exc))
        log.warning(
            "landing file cannot be read: quarantined as a whole",
            extra={"object": blob.name, "generation": blob.generation, "reason": str(exc), "quarantine": target},
        )
        return LandingResult(blob.name, blob.generation, pd.DataFrame(), invalid=str(exc))
    extra: dict[str, Any] = {
        "object": blob.name,
        "generation": blob.generation,
        "accepted": len(report.accepted),
        "rejected": len(report.rejected),
    }
    if report.rejected:
        extra["quarantine"] = quarantine.quarantine_rows(datasets, blob.name, blob.generation, report.rejected_csv())
    log.info("landing file validated", extra=extra)
    return LandingResult(blob.name, blob.generation, report.accepted, rejected=len(report.rejected))
