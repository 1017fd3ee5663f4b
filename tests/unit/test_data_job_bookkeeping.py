"""What the job considers consumed, pending, committed or leftover, read from a datasets bucket folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.blobstore import FileBlobStore
from common.dataset_versions import commit_version
from common.settings import ConfigError
from data_versioning import instream, landing, state
from data_versioning.config import JobConfig
from data_versioning.instream import BatchCorrupt
from tests.unit.data_job_support import add_batch, frame


def test_empty_bucket(tmp_path: Path) -> None:
    current = state.scan(FileBlobStore(tmp_path))
    assert current.consumed == set()
    assert current.corrections_cursor is None
    assert current.latest_version == 0 and current.leftovers == 0


def test_consumed_objects_and_cursor_come_from_manifests_and_committed_batches(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    first = add_batch(store, 1, ["a.csv"], "c1")
    rows = instream.read_batch(store, first)
    commit_version(
        store, 1, rows, rows.head(0), landing_objects=first.landing_objects, corrections_cursor="c1",
        instream_batches=[first.batch_id],
    )  # fmt: skip
    instream.delete_batch(store, first.batch_id)
    add_batch(store, 2, ["b.csv"], "c2")
    add_batch(store, 3, ["c.csv"], "c3")
    interrupted = add_batch(store, 4, ["d.csv"], "c4")
    store.delete(instream.marker_name(interrupted.batch_id))  # data without marker: d.csv is not consumed
    current = state.scan(store)
    assert current.consumed == {("a.csv", 1), ("b.csv", 1), ("c.csv", 1)}
    assert current.corrections_cursor == "c3"
    assert [b.landing_objects[0]["name"] for b in current.pending] == ["b.csv", "c.csv"]
    assert list(current.orphan_batches) == [interrupted.batch_id]
    assert current.max_batch_seq == 4
    assert current.latest_version == 1


def test_cursor_falls_back_to_the_latest_manifest(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    rows = frame(3)
    commit_version(store, 1, rows, rows.head(0), corrections_cursor="c9", instream_batches=["00000007-aaaaaaaa"])
    current = state.scan(store)
    assert current.corrections_cursor == "c9"
    assert current.max_batch_seq == 7  # ids never repeat after the absorbed batches are gone


def test_batch_absorbed_by_a_manifest_is_a_leftover_and_cleaning_keeps_the_rest(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    absorbed = add_batch(store, 1, ["a.csv"], None)
    rows = instream.read_batch(store, absorbed)
    commit_version(
        store, 1, rows, rows.head(0), landing_objects=absorbed.landing_objects, instream_batches=[absorbed.batch_id]
    )
    store.write("versioned/v2/train.parquet", b"half a commit")
    pending = add_batch(store, 2, ["b.csv"], None)
    current = state.scan(store)
    assert current.absorbed_leftovers == [absorbed.batch_id]
    assert [b.batch_id for b in current.pending] == [pending.batch_id]
    assert {v: [b.name for b in blobs] for v, blobs in current.uncommitted_versions.items()} == {
        2: ["versioned/v2/train.parquet"]
    }
    assert current.consumed == {("a.csv", 1), ("b.csv", 1)}
    assert state.clean_leftovers(store, current, cutoff=None) == (2, 0)
    names = [b.name for b in store.list()]
    assert names == sorted(
        ["versioned/v1/train.parquet", "versioned/v1/valid.parquet", "versioned/v1/_MANIFEST.json",
         instream.data_name(pending.batch_id), instream.marker_name(pending.batch_id)]
    )  # fmt: skip


def test_committed_batch_without_data_stops_the_job(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    marker = add_batch(store, 1, ["a.csv"], None)
    store.delete(instream.data_name(marker.batch_id))
    with pytest.raises(BatchCorrupt, match=r"data .* is missing"):
        state.scan(store)


def test_new_landing_objects_skip_consumed_pairs_but_not_reuploads(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    a = store.write("a.csv", b"x")
    store.write("b.CSV", b"x")
    store.write("notes.txt", b"x")
    fresh, ignored = landing.new_objects(store, {("a.csv", a.generation)})
    assert [b.name for b in fresh] == ["b.CSV"]
    assert ignored == ["notes.txt"]
    os.utime(tmp_path / "a.csv", ns=(a.generation + 10**9, a.generation + 10**9))  # a re-upload
    fresh, _ = landing.new_objects(store, {("a.csv", a.generation)})
    assert [b.name for b in fresh] == ["a.csv", "b.CSV"]


def test_configuration_errors_name_the_variable(tmp_path: Path) -> None:
    base = {"LANDING_BUCKET": (tmp_path / "l").as_uri(), "DATASETS_BUCKET": (tmp_path / "d").as_uri()}
    config = JobConfig.from_env(base)
    assert (config.lease_seconds, config.max_object_bytes) == (900, 512 * 1024 * 1024)
    assert (config.correction_max_factor, config.correction_range_factor) == (5.0, 2.0)
    assert config.publish_events is False  # no bus configured: nothing to publish to
    assert JobConfig.from_env({**base, "GCP_PROJECT": "p"}).publish_events is True
    assert JobConfig.from_env({**base, "GCP_PROJECT": "p", "PUBLISH_EVENTS": "false"}).publish_events is False
    for env, variable in [
        ({"DATA_JOB_FAILPOINT": "after_lunch"}, "DATA_JOB_FAILPOINT"),
        ({"PUBLISH_EVENTS": "true"}, "PUBLISH_EVENTS"),
        ({"PUBLISH_EVENTS": "maybe"}, "PUBLISH_EVENTS"),
        ({"BATCH_SIZE": "ten"}, "BATCH_SIZE"),
        ({"DATASETS_BUCKET": (tmp_path / "l" / "out").as_uri()}, "LANDING_BUCKET"),
        ({"DATA_JOB_LEASE_SECONDS": "10"}, "DATA_JOB_LEASE_SECONDS"),
        ({"DATA_JOB_LEASE_SECONDS": "15m"}, "DATA_JOB_LEASE_SECONDS"),
        ({"DATA_JOB_MAX_OBJECT_BYTES": "0"}, "DATA_JOB_MAX_OBJECT_BYTES"),
        ({"DATA_JOB_MAX_OBJECT_BYTES": "512MiB"}, "DATA_JOB_MAX_OBJECT_BYTES"),
        ({"CORRECTION_MAX_FACTOR": "1"}, "CORRECTION_MAX_FACTOR"),
        ({"CORRECTION_MAX_FACTOR": "inf"}, "CORRECTION_MAX_FACTOR"),
        ({"CORRECTION_RANGE_FACTOR": "0.5"}, "CORRECTION_RANGE_FACTOR"),
    ]:
        with pytest.raises(ConfigError, match=variable):
            JobConfig.from_env({**base, **env})
