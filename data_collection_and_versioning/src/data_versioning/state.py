"""What the datasets bucket says has happened: committed versions, pending instream batches, what has been
consumed, where the corrections cursor stands, and which leftovers of interrupted runs can go.

Only committed things count: a version is committed by its manifest, a batch by its marker. Everything
else is a leftover, and deleting it never loses data (its inputs are not recorded as consumed, or its rows
are already in a committed version).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from common.blobstore import BlobStore
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
    orphan_batches: list[str] = field(default_factory=list)  # batch data without a marker
    uncommitted_versions: dict[int, list[str]] = field(default_factory=dict)
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
    orphans = [b for b in listing.orphans() if b not in absorbed]
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


def clean_leftovers(store: BlobStore, state: DatasetState) -> None:
    """Delete what interrupted runs left behind. Safe by construction, see the module docstring."""
    for batch_id in state.absorbed_leftovers:
        instream.delete_batch(store, batch_id)
        log.info("deleted instream batch already in a committed version", extra={"batch": batch_id})
    for batch_id in state.orphan_batches:
        instream.delete_batch(store, batch_id)
        log.warning("deleted instream batch of an interrupted run (no marker)", extra={"batch": batch_id})
    for version, names in sorted(state.uncommitted_versions.items()):
        for name in names:
            store.delete(name)
        log.warning(
            "deleted uncommitted version folder of an interrupted run (no manifest)",
            extra={"version": version, "objects": len(names)},
        )
    state.absorbed_leftovers, state.orphan_batches, state.uncommitted_versions = [], [], {}
