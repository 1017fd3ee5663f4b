"""`instream/`: validated rows of a run, waiting for enough train rows to become a version.

    instream/batch-<id>.parquet   the rows (TRAINING_COLUMNS + `split`)
    instream/batch-<id>.json      the marker, written LAST: row counts, checksum, the landing objects and the
                                  corrections cursor this batch consumed

A batch without a marker is an interrupted run (its inputs were never recorded as consumed): ignored and
deleted. Batch ids start with a sequence number, so ids sort in the order the batches were written.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from common.blobstore import BlobStore
from common.schema import TRAINING_COLUMNS
from data_versioning.split import SPLIT_COLUMN, TRAIN, VALID

PREFIX = "instream/"
_NAME = re.compile(r"^instream/batch-(?P<id>(?P<seq>\d{8})-[0-9a-f]{8})\.(?P<ext>parquet|json)$")


class BatchCorrupt(RuntimeError):
    """A committed batch does not match its marker, or its data is missing."""


def new_batch_id(seq: int) -> str:
    return f"{seq:08d}-{uuid.uuid4().hex[:8]}"


def batch_seq(batch_id: str) -> int:
    return int(batch_id.split("-", 1)[0])


def data_name(batch_id: str) -> str:
    return f"{PREFIX}batch-{batch_id}.parquet"


def marker_name(batch_id: str) -> str:
    return f"{PREFIX}batch-{batch_id}.json"


@dataclass(frozen=True)
class BatchMarker:
    batch_id: str
    created_at: str
    rows: dict[str, int]  # {"train": n, "valid": m}
    sha256: str
    landing_objects: list[dict[str, Any]] = field(default_factory=list)
    corrections_cursor: str | None = None  # where the next corrections read starts
    corrections: int = 0  # accepted correction rows in this batch

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BatchMarker:
        doc = json.loads(data)
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


@dataclass
class InstreamListing:
    markers: list[str] = field(default_factory=list)  # batch ids with a marker, oldest first
    data: dict[str, float | None] = field(default_factory=dict)  # batch id with a Parquet file -> when written
    unknown: list[str] = field(default_factory=list)  # objects under instream/ that are not ours

    def orphans(self) -> list[str]:
        """Batches whose marker was never written: interrupted runs."""
        return sorted(self.data.keys() - set(self.markers))

    def max_seq(self) -> int:
        return max((batch_seq(b) for b in [*self.markers, *self.data]), default=0)


def list_instream(store: BlobStore) -> InstreamListing:
    listing = InstreamListing()
    for blob in store.list(PREFIX):
        match = _NAME.match(blob.name)
        if not match:
            listing.unknown.append(blob.name)
        elif match["ext"] == "json":
            listing.markers.append(match["id"])
        else:
            listing.data[match["id"]] = blob.updated
    listing.markers.sort()
    return listing


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.loc[:, [*TRAINING_COLUMNS, SPLIT_COLUMN]].to_parquet(buf, index=False)
    return buf.getvalue()


def write_batch(
    store: BlobStore,
    batch_id: str,
    frame: pd.DataFrame,
    *,
    landing_objects: list[dict[str, Any]],
    corrections_cursor: str | None,
    corrections: int,
    before_marker: Any = None,
) -> BatchMarker:
    """Write the rows, then (after `before_marker()`, the fault tests' kill point) the marker."""
    data = _parquet(frame)
    store.write(data_name(batch_id), data)
    if before_marker is not None:
        before_marker()
    counts = frame[SPLIT_COLUMN].value_counts()
    marker = BatchMarker(
        batch_id=batch_id,
        created_at=datetime.now(UTC).isoformat(),
        rows={TRAIN: int(counts.get(TRAIN, 0)), VALID: int(counts.get(VALID, 0))},
        sha256=hashlib.sha256(data).hexdigest(),
        landing_objects=landing_objects,
        corrections_cursor=corrections_cursor,
        corrections=corrections,
    )
    store.write(marker_name(batch_id), marker.to_json(), content_type="application/json")
    return marker


def read_marker(store: BlobStore, batch_id: str) -> BatchMarker:
    return BatchMarker.from_json(store.read(marker_name(batch_id)))


def read_batch(store: BlobStore, marker: BatchMarker) -> pd.DataFrame:
    name = data_name(marker.batch_id)
    data = store.read(name)
    if hashlib.sha256(data).hexdigest() != marker.sha256:
        raise BatchCorrupt(f"{name}: checksum does not match its marker")
    frame = pd.read_parquet(io.BytesIO(data))
    if len(frame) != sum(marker.rows.values()):
        raise BatchCorrupt(f"{name}: {len(frame)} rows, its marker says {sum(marker.rows.values())}")
    return frame


def delete_batch(store: BlobStore, batch_id: str) -> None:
    """Data first, marker last: a marker left alone is recognisable as absorbed through the manifests."""
    store.delete(data_name(batch_id))
    store.delete(marker_name(batch_id))
