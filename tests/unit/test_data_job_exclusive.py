"""What keeps two data jobs apart: the exit code of the job that finds a live lease, the clean-up that leaves
a live job's uncommitted files alone, and version files that are created once and never overwritten."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.blobstore import FileBlobStore
from common.dataset_versions import VersionConflict, commit_version, committed_versions, manifest_path
from data_versioning import __main__ as entry
from data_versioning import instream, job, state
from data_versioning.lease import LEASE_NAME, Lease, LeaseLost, LeaseRecord
from tests.unit.data_job_support import add_batch, frame

SCRUBBED = ("PUBSUB_EMULATOR_HOST", "GCP_PROJECT", "GOOGLE_CLOUD_PROJECT", "DATA_JOB_FAILPOINT", "BATCH_SIZE")


@pytest.fixture
def buckets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FileBlobStore, FileBlobStore]:
    for name in SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    landing, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    monkeypatch.setenv("LANDING_BUCKET", landing.url)
    monkeypatch.setenv("DATASETS_BUCKET", datasets.url)
    monkeypatch.setenv("DBAPP_URL", "")
    monkeypatch.setenv("PUBLISH_EVENTS", "false")
    return landing, datasets


def test_a_second_job_exits_5_naming_the_holder_and_its_expiry(buckets, caplog: pytest.LogCaptureFixture) -> None:
    landing, datasets = buckets
    landing.write("data.csv", b"price\n1\n")
    expires = datetime.now(UTC) + timedelta(minutes=10)
    holder = LeaseRecord("pod-7:1:beef", "pod-7", 1, datetime.now(UTC).isoformat(), expires.isoformat())
    datasets.write(LEASE_NAME, holder.to_json())

    with caplog.at_level(logging.ERROR):
        code = entry.execute([])

    assert code == entry.EXIT_LEASE_HELD == 5
    [message] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "another data job holds the lease" in message
    assert "owner pod-7:1:beef (host pod-7, pid 1)" in message and f"expires {expires.isoformat()}" in message
    assert [b.name for b in datasets.list()] == [LEASE_NAME]  # nothing read, nothing written
    assert json.loads(datasets.read(LEASE_NAME))["owner"] == "pod-7:1:beef"


def test_a_run_that_loses_its_lease_exits_6_and_a_finished_run_leaves_no_lease(
    buckets, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, datasets = buckets
    assert entry.execute([]) == entry.EXIT_OK
    assert not datasets.exists(LEASE_NAME)

    def lost(config: object) -> None:
        raise LeaseLost("taken over")

    monkeypatch.setattr(entry, "run", lost)
    assert entry.execute([]) == entry.EXIT_LEASE_LOST == 6


def test_clean_up_deletes_only_leftovers_older_than_the_lease(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    interrupted = add_batch(store, 1, ["a.csv"], None)
    store.delete(instream.marker_name(interrupted.batch_id))  # an interrupted run's batch: no marker
    store.write("versioned/v1/train.parquet", b"an interrupted commit")

    ours = Lease.acquire(store, 900)
    # Another job, whose lease expired while it kept running, writes after we took the lease.
    live = add_batch(store, 2, ["b.csv"], None)
    store.delete(instream.marker_name(live.batch_id))
    store.write("versioned/v1/valid.parquet", b"its commit in progress")

    current = state.scan(store)
    assert set(current.orphan_batches) == {interrupted.batch_id, live.batch_id}
    assert state.clean_leftovers(store, current, ours.acquired_updated) == (2, 2)
    names = {b.name for b in store.list()}
    assert instream.data_name(live.batch_id) in names and "versioned/v1/valid.parquet" in names
    assert instream.data_name(interrupted.batch_id) not in names and "versioned/v1/train.parquet" not in names


def test_the_job_leaves_files_written_after_its_lease_alone(buckets, monkeypatch: pytest.MonkeyPatch) -> None:
    _, datasets = buckets
    old = add_batch(datasets, 1, ["a.csv"], None)
    datasets.delete(instream.marker_name(old.batch_id))
    real_acquire = Lease.acquire
    young: list[str] = []

    def acquire_then_other_job_writes(*args: object, **kwargs: object) -> Lease:
        taken = real_acquire(*args, **kwargs)
        other = add_batch(datasets, 2, ["b.csv"], None)
        datasets.delete(instream.marker_name(other.batch_id))
        young.append(instream.data_name(other.batch_id))
        return taken

    monkeypatch.setattr(job.Lease, "acquire", acquire_then_other_job_writes)
    assert entry.execute([]) == entry.EXIT_OK
    assert [b.name for b in datasets.list()] == young  # the old leftover went, the young one stays


def test_a_version_is_written_once(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    rows = frame(6)
    first = commit_version(store, 1, rows, rows.head(0))
    assert first.train_price == {"min": 100000.0, "max": 100005.0}
    before = store.read(manifest_path(1))
    with pytest.raises(VersionConflict, match="already committed"):
        commit_version(store, 1, rows.head(2), rows.head(0))
    assert store.read(manifest_path(1)) == before


def test_a_manifest_written_meanwhile_by_another_job_is_never_overwritten(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    rows = frame(4)

    def other_job_commits_first() -> None:
        store.write(manifest_path(1), b'{"theirs": true}')

    with pytest.raises(VersionConflict, match="nothing was overwritten"):
        commit_version(store, 1, rows, rows.head(0), before_manifest=other_job_commits_first)
    assert store.read(manifest_path(1)) == b'{"theirs": true}'


def test_version_files_left_by_a_live_job_stop_the_commit_without_overwriting(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    store.write("versioned/v1/train.parquet", b"another job's file")
    with pytest.raises(VersionConflict, match=r"versioned/v1/train\.parquet exists already"):
        commit_version(store, 1, frame(3), frame(0))
    assert store.read("versioned/v1/train.parquet") == b"another job's file"
    assert committed_versions(store) == []
