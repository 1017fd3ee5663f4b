"""One run of the data job: take the lease, clean leftovers, read new corrections and landing objects, write
one committed instream batch, commit a version when enough train rows are pending, announce it, release.

Order of writes (each step is safe to crash after; the next run resumes):
  lease -> quarantine files -> instream batch data -> instream marker (inputs now consumed)
  -> version data -> version manifest (version committed) -> delete absorbed batches -> publish event
  -> lease released.
The lease is renewed (`keep_alive`) between landing objects and before every commit point, so a run that
lost it stops before writing anything that counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from common.blobstore import BlobStore, open_store
from common.dataset_versions import Manifest
from data_versioning import instream, landing, quarantine, state
from data_versioning.config import JobConfig
from data_versioning.corrections import CorrectionsFetch, CorrectionsUnavailable, fetch_corrections, typed_frame
from data_versioning.failpoints import Failpoints
from data_versioning.lease import Lease
from data_versioning.planning import plan_commit
from data_versioning.plausibility import price_bounds
from data_versioning.publishing import is_published, publish_version
from data_versioning.split import SPLIT_COLUMN, assign_split
from data_versioning.versioning import commit_pending

log = logging.getLogger(__name__)


class CorrectionsRequired(RuntimeError):
    """Corrections are required (REQUIRE_CORRECTIONS) and dbapp could not deliver them."""


@dataclass
class RunSummary:
    landing_objects: int = 0
    landing_ignored: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    files_invalid: int = 0  # quarantined as a whole, the too large ones included
    files_too_large: int = 0  # over DATA_JOB_MAX_OBJECT_BYTES, never read
    corrections: str = "disabled"  # disabled | read | unavailable
    corrections_accepted: int = 0
    corrections_rejected: int = 0  # invalid by the schema
    corrections_implausible: int = 0  # valid but too far from the estimate or the training prices
    leftovers_cleaned: int = 0
    leftovers_kept: int = 0  # uncommitted files younger than this run's lease: another job's, left alone
    batch: str | None = None
    pending_batches: int = 0
    pending_train_rows: int = 0
    version_committed: int | None = None
    train_rows_needed: int = 0
    published_version: int | None = None
    publish_error: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)


def _checkpoint(failpoints: Failpoints, lease: Lease, name: str) -> Callable[[], None]:
    """The hook between two writes: the fault tests' kill point, then the lease renewal before the next one."""

    def hook() -> None:
        failpoints.hit(name)
        lease.keep_alive()

    return hook


def _read_corrections(config: JobConfig, current: state.DatasetState, summary: RunSummary) -> CorrectionsFetch | None:
    if not config.corrections_enabled:
        log.info("corrections input disabled (DBAPP_URL is empty)")
        return None
    cursor = current.corrections_cursor
    bounds = price_bounds(current.manifests, config.correction_max_factor, config.correction_range_factor)
    try:
        fetch = fetch_corrections(
            config.settings.dbapp_url,
            cursor,
            bounds=bounds,
            page_size=config.corrections_page_size,
            timeout=config.dbapp_timeout_seconds,
        )
    except CorrectionsUnavailable as exc:
        if config.require_corrections:
            raise CorrectionsRequired(f"corrections are required (REQUIRE_CORRECTIONS) but {exc}") from exc
        summary.corrections = "unavailable"
        log.warning(
            "dbapp corrections unavailable: continuing with landing data only; the corrections cursor does not "
            "advance, so these corrections are read by a later run",
            extra={"reason": str(exc), "cursor": cursor},
        )
        return None
    summary.corrections = "read"
    summary.corrections_accepted, summary.corrections_rejected = len(fetch.frame), len(fetch.rejected)
    summary.corrections_implausible = len(fetch.implausible)
    return fetch


def _read_landing(
    config: JobConfig,
    landing_store: BlobStore,
    datasets: BlobStore,
    consumed: set[landing.ObjectId],
    summary: RunSummary,
    lease: Lease,
) -> list[pd.DataFrame]:
    fresh, ignored = landing.new_objects(landing_store, consumed)
    summary.landing_ignored = len(ignored)
    if ignored:
        log.info("landing objects that are not CSV are ignored", extra={"objects": ignored[:20], "count": len(ignored)})
    log.info("landing objects to read", extra={"count": len(fresh), "landing": landing_store.url})
    frames: list[pd.DataFrame] = []
    for index, blob in enumerate(fresh, start=1):
        lease.keep_alive()
        log.info(
            f"reading landing object {index} of {len(fresh)}",
            extra={"object": blob.name, "size_bytes": blob.size,
                   "run_rows_read": summary.rows_accepted + summary.rows_rejected},
        )  # fmt: skip
        result = landing.read_object(landing_store, datasets, blob, max_bytes=config.max_object_bytes)
        if result is None:
            continue
        summary.files.append(result.record())
        summary.rows_accepted += result.accepted
        summary.rows_rejected += result.rejected
        summary.files_invalid += result.invalid is not None
        summary.files_too_large += blob.size > config.max_object_bytes
        frames.extend(f for f in result.frames if len(f))
    summary.landing_objects = len(summary.files)
    return frames


def _write_batch(
    config: JobConfig,
    datasets: BlobStore,
    current: state.DatasetState,
    frames: list[pd.DataFrame],
    fetch: CorrectionsFetch | None,
    summary: RunSummary,
    failpoints: Failpoints,
    lease: Lease,
) -> None:
    """Everything this run read becomes one committed instream batch (its marker records the inputs)."""
    lease.keep_alive()
    if fetch is not None and fetch.quarantined:
        target = quarantine.quarantine_corrections(datasets, fetch.after, fetch.quarantined)
        log.warning(
            "corrections rejected",
            extra={"invalid": len(fetch.rejected), "implausible": len(fetch.implausible), "quarantine": target},
        )
    if fetch is not None and len(fetch.frame):
        frames.append(fetch.frame)
    frame = pd.concat(frames, ignore_index=True) if frames else typed_frame([])
    frames.clear()
    frame[SPLIT_COLUMN] = assign_split(frame, config.settings.train_test_split)
    batch_id = instream.new_batch_id(current.max_batch_seq + 1)
    log.info(f"writing instream batch: {len(frame):,} rows", extra={"batch": batch_id, "rows": len(frame)})
    marker = instream.write_batch(
        datasets,
        batch_id,
        frame,
        landing_objects=summary.files,
        corrections_cursor=fetch.cursor if fetch is not None else current.corrections_cursor,
        corrections=len(fetch.frame) if fetch is not None else 0,
        before_marker=_checkpoint(failpoints, lease, "after_instream_data"),
    )
    current.pending.append(marker)
    summary.batch = batch_id
    log.info("instream batch committed", extra={"batch": batch_id, "rows": marker.rows})


def _commit_if_ready(
    config: JobConfig,
    datasets: BlobStore,
    current: state.DatasetState,
    summary: RunSummary,
    failpoints: Failpoints,
    lease: Lease,
) -> Manifest | None:
    batch_size = config.settings.batch_size
    plan = plan_commit(current.pending, current.latest_version, batch_size)
    summary.pending_batches, summary.pending_train_rows = len(plan.batches), plan.train_rows
    if plan.version is None:
        summary.train_rows_needed = plan.needed
        log.info(
            f"no new version: {plan.needed} more train rows needed (BATCH_SIZE={batch_size})",
            extra={"pending_batches": len(plan.batches), "pending_train_rows": plan.train_rows},
        )
        return None
    lease.keep_alive()
    committed = commit_pending(
        datasets,
        plan,
        current.pending,
        after_data=_checkpoint(failpoints, lease, "after_version_data"),
        after_manifest=_checkpoint(failpoints, lease, "after_version_manifest"),
    )
    current.manifests.append(committed)
    summary.version_committed = committed.version
    return committed


def _announce(
    config: JobConfig, datasets: BlobStore, current: state.DatasetState, committed: Manifest | None, summary: RunSummary
) -> None:
    """Publish the version committed now, or the latest one whose publication was never recorded."""
    if not config.publish_events or not current.manifests:
        return
    latest = current.manifests[-1]
    if committed is None and is_published(datasets, latest):
        return
    try:
        publish_version(datasets, config.settings.gcp_project, latest)
        summary.published_version = latest.version
    except Exception as exc:
        summary.publish_error = f"v{latest.version}: {type(exc).__name__}: {exc}"
        log.exception(
            "PUBLISHING FAILED: the dataset version is committed but its event was not published; "
            "the next run publishes it again",
            extra={"version": latest.version},
        )


def run(config: JobConfig) -> RunSummary:
    """One run under the lease; `LeaseHeld` if another job holds it, `LeaseLost` if it was taken over."""
    datasets = open_store(config.settings.datasets_bucket)
    lease = Lease.acquire(datasets, config.lease_seconds)
    log.info(
        "lease taken", extra={"lease": lease.url, "owner": lease.record.owner, "expires_at": lease.record.expires_at}
    )
    try:
        return _run_leased(config, datasets, lease)
    finally:
        lease.release()


def _run_leased(config: JobConfig, datasets: BlobStore, lease: Lease) -> RunSummary:
    failpoints = Failpoints(config.failpoint)
    summary = RunSummary()
    landing_store = open_store(config.settings.landing_bucket)

    current = state.scan(datasets)
    if current.leftovers:
        summary.leftovers_cleaned, summary.leftovers_kept = state.clean_leftovers(
            datasets, current, lease.acquired_updated
        )

    fetch = _read_corrections(config, current, summary)
    frames = _read_landing(config, landing_store, datasets, current.consumed, summary, lease)
    if summary.files or (fetch is not None and fetch.advanced):
        _write_batch(config, datasets, current, frames, fetch, summary, failpoints, lease)
    else:
        log.info("nothing new in the landing bucket or from dbapp")
    committed = _commit_if_ready(config, datasets, current, summary, failpoints, lease)
    lease.keep_alive()
    _announce(config, datasets, current, committed, summary)
    return summary
