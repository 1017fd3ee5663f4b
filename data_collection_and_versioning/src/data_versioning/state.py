"""What the datasets bucket says has happened: committed versions, pending instream batches, what has been
consumed, where the corrections cursor stands, and which leftovers of interrupted runs can go.

Only committed things count: a version is committed by its manifest, a batch by its marker. Everything
else is a leftover, and deleting it never loses data (its inputs are not recorded as consumed, or its rows
are already in a committed version).

Uncommitted leftovers (batch data without a marker, version files without a manifest) are deleted only if
they were written before this run took its lease: anything younger can only come from a job whose lease
expired while it kept running, and is left for a later run (that job stops at its next lease renewal).
Batches already absorbed by a manifest are committed data and go whatever their age.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from common.blobstore import BlobInfo, BlobStore
from common.dataset_versions import Manifest, committed_versions, uncommitted_version_dirs
from data_versioning import instream
from data_versioning.instream import BatchCorrupt, BatchMarker
from data_versioning.landing import ObjectId, object_id

log = logging.getLogger(__name__)


@dataclass
class DatasetState:
    manifests: list[Manifest]
    pending: list[BatchMarker]  # committed batches not yet absorbed into a version, oldest first
    absorbed_leftovers: list[str] = field(default_factory=list)  # batch ids already in a manifest
    orphan_batches: dict[str, float | None] = field(default_factory=dict)  # batch data without a marker: written
    uncommitted_versions: dict[int, list[BlobInfo]] = field(default_factory=dict)
    max_batch_seq: int = 0

    @property
    def latest_version(self) -> int:
        return self.manifests[-1].version if self.manifests else 0

    @property
    def consumed(self) -> set[ObjectId]:
        entries = [e for m in self.manifests for e in m.landing_objects]
        entries += [e for b in self.pending for e in b.landing_objects]
        return {object_id(e) for e in entries}

    @property
    def corrections_cursor(self) -> str | None:
        """The cursor of the newest committed batch, or of the newest version when none is pending."""
        if self.pending:
            return self.pending[-1].corrections_cursor
        return self.manifests[-1].corrections_cursor if self.manifests else None

    @property
    def pending_train_rows(self) -> int:
        return sum(b.rows.get("train", 0) for b in self.pending)

    @property
    def leftovers(self) -> int:
        return len(self.absorbed_leftovers) + len(self.orphan_batches) + len(self.uncommitted_versions)


def scan(store: BlobStore) -> DatasetState:
    manifests = committed_versions(store)
    absorbed = {b for m in manifests for b in m.instream_batches}
    listing = instream.list_instream(store)
    for name in listing.unknown:
        log.warning("unexpected object under instream/ left alone", extra={"object": name})
    pending, leftovers = [], []
    for batch_id in listing.markers:
        if batch_id in absorbed:
            leftovers.append(batch_id)
            continue
        if batch_id not in listing.data:
            raise BatchCorrupt(
                f"{store.url}/{instream.marker_name(batch_id)} is committed but its data "
                f"{instream.data_name(batch_id)} is missing; restore it from a backup before running the job"
            )
        pending.append(instream.read_marker(store, batch_id))
    orphans = {b: listing.data[b] for b in listing.orphans() if b not in absorbed}
    leftovers += [b for b in listing.orphans() if b in absorbed]
    max_seq = max([listing.max_seq(), *(instream.batch_seq(b) for b in absorbed)], default=0)
    return DatasetState(
        manifests=manifests,
        pending=pending,
        absorbed_leftovers=sorted(leftovers),
        orphan_batches=orphans,
        uncommitted_versions=uncommitted_version_dirs(store),
        max_batch_seq=max_seq,
    )


def _older(updated: float | None, cutoff: float | None) -> bool:
    """Written before the cutoff? An unknown time counts as young: keeping a leftover is always safe."""
    return cutoff is None or (updated is not None and updated < cutoff)


def clean_leftovers(store: BlobStore, state: DatasetState, cutoff: float | None) -> tuple[int, int]:
    """Delete what interrupted runs left behind, see the module docstring; (deleted, kept young) leftovers.

    `cutoff` is when this run's lease was taken (the store's clock); None deletes every leftover.
    """
    deleted, kept = 0, 0
    for batch_id in state.absorbed_leftovers:
        instream.delete_batch(store, batch_id)
        deleted += 1
        log.info("deleted instream batch already in a committed version", extra={"batch": batch_id})
    for batch_id, updated in sorted(state.orphan_batches.items()):
        if not _older(updated, cutoff):
            kept += 1
            log.warning("instream batch without marker is younger than this run's lease: left alone",
                        extra={"batch": batch_id})  # fmt: skip
            continue
        instream.delete_batch(store, batch_id)
        deleted += 1
        log.warning("deleted instream batch of an interrupted run (no marker)", extra={"batch": batch_id})
    for version, blobs in sorted(state.uncommitted_versions.items()):
        old = [b for b in blobs if _older(b.updated, cutoff)]
        for blob in old:
            store.delete(blob.name)
        if len(old) < len(blobs):
            kept += 1
            log.warning("uncommitted version files younger than this run's lease: left alone",
                        extra={"version": version, "young": [b.name for b in blobs if b not in old]})  # fmt: skip
        if old:
            deleted += 1
            log.warning(
                "deleted uncommitted version files of an interrupted run (no manifest)",
                extra={"version": version, "objects": len(old)},
            )
    state.absorbed_leftovers, state.orphan_batches, state.uncommitted_versions = [], {}, {}
    return deleted, kept
