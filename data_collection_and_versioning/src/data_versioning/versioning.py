"""Commit the pending instream batches as `versioned/v{N}/`, then delete them (only after the manifest)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from common.blobstore import BlobStore
from common.dataset_versions import Manifest, commit_version
from data_versioning import instream
from data_versioning.instream import BatchMarker
from data_versioning.planning import CommitPlan
from data_versioning.split import SPLIT_COLUMN, TRAIN, VALID

log = logging.getLogger(__name__)


def commit_pending(
    store: BlobStore,
    plan: CommitPlan,
    pending: list[BatchMarker],
    *,
    after_data: Callable[[], None] | None = None,
    after_manifest: Callable[[], None] | None = None,
) -> Manifest:
    """All rows of the planned batches become version `plan.version`; the batches are deleted afterwards."""
    if plan.version is None:
        raise ValueError(f"nothing to commit: {plan.needed} more train rows needed")
    by_id = {b.batch_id: b for b in pending}
    markers = [by_id[b] for b in plan.batches]
    frame = pd.concat([instream.read_batch(store, m) for m in markers], ignore_index=True)
    split = frame[SPLIT_COLUMN]
    landing = [entry for m in markers for entry in m.landing_objects]
    log.info(
        f"writing dataset version {plan.version}: {len(frame):,} rows",
        extra={"version": plan.version, "rows": len(frame), "batches": len(markers)},
    )
    manifest = commit_version(
        store,
        plan.version,
        frame[split == TRAIN],
        frame[split == VALID],
        landing_objects=landing,
        corrections_cursor=markers[-1].corrections_cursor,
        instream_batches=plan.batches,
        before_manifest=after_data,
    )
    del frame
    log.info(
        "dataset version committed",
        extra={"version": manifest.version, "rows": manifest.rows, "batches": len(markers),
               "landing_objects": len(landing)},
    )  # fmt: skip
    if after_manifest is not None:
        after_manifest()
    for batch_id in plan.batches:
        instream.delete_batch(store, batch_id)
    return manifest
