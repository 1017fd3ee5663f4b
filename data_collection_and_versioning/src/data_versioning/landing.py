"""Raw CSV objects in the landing bucket: which ones are new, and reading one into validated rows.

An object is identified by (name, generation). Once a committed instream batch or a version manifest records
that pair, the object is never read again; a re-upload gets a new generation and is new data. The job never
deletes or changes anything in the landing bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from common.blobstore import BlobInfo, BlobNotFound, BlobStore
from common.csv_stream import validate_pieces
from common.csv_validation import FileInvalid
from data_versioning import quarantine

log = logging.getLogger(__name__)

CHUNK_BYTES = 24 * 1024 * 1024  # validated at a time: ~200,000 rows of the seed's format

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
    frames: list[pd.DataFrame] = field(default_factory=list)  # accepted rows, one frame per piece read
    rejected: int = 0
    invalid: str | None = None  # why the whole file was quarantined

    @property
    def accepted(self) -> int:
        return sum(len(f) for f in self.frames)

    def record(self) -> dict[str, Any]:
        """What the instream marker and the manifest keep about this object."""
        entry: dict[str, Any] = {
            "name": self.name,
            "generation": self.generation,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }
        if self.invalid:
            entry["invalid"] = self.invalid
        return entry


def read_object(
    landing: BlobStore, datasets: BlobStore, blob: BlobInfo, *, max_bytes: int, chunk_bytes: int = CHUNK_BYTES
) -> LandingResult | None:
    """Validate one landing object, streamed; bad rows (or the whole file) go to the quarantine.

    An object over `max_bytes` (by the listing's size) is not read at all: its reason is quarantined and it
    counts as consumed like any invalid file, so it is not tried again. None if the object vanished or was
    rewritten since the listing (the next run reads the new generation).
    """
    where = {"object": blob.name, "generation": blob.generation}
    if blob.size > max_bytes:
        reason = (
            f"{landing.url}/{blob.name}: {blob.size} bytes, over the cap of {max_bytes} bytes "
            "(DATA_JOB_MAX_OBJECT_BYTES); not read"
        )
        target = quarantine.quarantine_reason(datasets, blob.name, blob.generation, reason)
        log.warning(
            "landing file too large: quarantined unread", extra={**where, "reason": reason, "quarantine": target}
        )
        return LandingResult(blob.name, blob.generation, invalid=reason)
    result = LandingResult(blob.name, blob.generation)
    pieces = -(-blob.size // chunk_bytes)  # about how many pieces the object is read in
    try:
        with quarantine.RejectedRows() as rejected:
            with landing.open_read(blob.name, blob.generation) as stream:
                for piece, report in enumerate(validate_pieces(stream, f"{landing.url}/{blob.name}", chunk_bytes), 1):
                    result.frames.append(report.accepted)
                    rejected.add(report.rejected)
                    if pieces > 1:  # a long read: say how far it is
                        _log_progress(blob, piece, pieces, result.accepted + rejected.count)
            result.rejected = rejected.count
            if rejected.count:
                where["quarantine"] = rejected.write(datasets, blob.name, blob.generation)
    except FileInvalid as exc:
        return _quarantine_whole(landing, datasets, blob, str(exc))
    except BlobNotFound as exc:
        log.warning("landing object changed or disappeared before it could be read", extra={**where, "error": str(exc)})
        return None
    log.info("landing file validated", extra={**where, "accepted": result.accepted, "rejected": result.rejected})
    return result


def _log_progress(blob: BlobInfo, piece: int, pieces: int, rows: int) -> None:
    log.info(
        f"reading {blob.name}: {rows:,} rows so far (piece {piece} of about {pieces})",
        extra={"object": blob.name, "generation": blob.generation, "piece": piece, "rows_read": rows},
    )


def _quarantine_whole(landing: BlobStore, datasets: BlobStore, blob: BlobInfo, reason: str) -> LandingResult | None:
    try:
        with landing.open_read(blob.name, blob.generation) as source:
            target = quarantine.quarantine_file(datasets, blob.name, blob.generation, source, reason)
    except BlobNotFound:
        log.warning("landing object changed or disappeared while it was quarantined", extra={"object": blob.name})
        return None
    log.warning(
        "landing file cannot be read: quarantined as a whole",
        extra={"object": blob.name, "generation": blob.generation, "reason": reason, "quarantine": target},
    )
    return LandingResult(blob.name, blob.generation, invalid=reason)
