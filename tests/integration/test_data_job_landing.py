"""The data job on landing CSVs, run as a real process against `file://` buckets."""

from __future__ import annotations

import csv
import io
import shutil
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.blobstore import FileBlobStore
from common.dataset_versions import committed_versions
from data_versioning.lease import LEASE_NAME, LeaseRecord
from data_versioning.split import assign_split
from tests.integration.data_job_fixtures import (
    SAMPLE,
    all_rows,
    instream_rows,
    row_counter,
    run_job,
    sample_accepted,
    snapshot,
    versioned_rows,
)


@pytest.fixture
def buckets(tmp_path: Path) -> tuple[FileBlobStore, FileBlobStore]:
    return FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")


def job(buckets, *, real_process: bool = False, **env: str):
    """In this interpreter unless a real process is needed (a failpoint kills it) or wanted (the console path)."""
    landing, datasets = buckets
    in_process = not real_process and "DATA_JOB_FAILPOINT" not in env
    return run_job(landing.url, datasets.url, in_process=in_process, **env)


def test_sample_data_becomes_a_version_with_rejected_rows_quarantined(buckets) -> None:
    landing, datasets = buckets
    upload = landing.write("2024/data.csv", SAMPLE.read_bytes())

    result = job(buckets, real_process=True, BATCH_SIZE="1000", TRAIN_TEST_SPLIT="0.8")

    assert result.returncode == 0, result.stderr
    assert result.summary["version_committed"] == 1
    assert (result.summary["rows_accepted"], result.summary["rows_rejected"]) == (3392, 191)
    [manifest] = committed_versions(datasets)
    assert [(o["name"], o["generation"]) for o in manifest.landing_objects] == [("2024/data.csv", upload.generation)]
    expected = sample_accepted()
    assert row_counter(all_rows(datasets)) == row_counter(expected)  # every accepted row exactly once
    assert len(instream_rows(datasets)) == 0
    rows = versioned_rows(datasets)
    assert (rows["split"] == assign_split(rows, 0.8).astype(str)).all()  # the split is the deterministic one
    assert manifest.rows == {
        "train": int((rows["split"] == "train").sum()),
        "valid": int((rows.split == "valid").sum()),
    }
    assert [b.name for b in datasets.list("instream/")] == []

    quarantined = list(csv.DictReader(io.StringIO(datasets.read(
        f"quarantine/landing/2024/data.csv@{upload.generation}.rejected.csv").decode())))  # fmt: skip
    assert len(quarantined) == 191
    assert sum(r["reason"].startswith("price: must be greater than 0") for r in quarantined) == 44
    assert sum("yr_renovated: cannot be before yr_built" in r["reason"] for r in quarantined) == 149
    assert all(int(r["line"]) >= 2 for r in quarantined)


def test_rows_wait_in_instream_until_batch_size_and_a_reupload_is_new_data(buckets) -> None:
    landing, datasets = buckets
    landing.write("data.csv", SAMPLE.read_bytes())

    first = job(buckets, BATCH_SIZE="5000")

    assert first.returncode == 0, first.stderr
    assert first.summary["version_committed"] is None
    train_rows = first.summary["pending_train_rows"]
    assert f"no new version: {5000 - train_rows} more train rows needed (BATCH_SIZE=5000)" in first.messages()
    assert committed_versions(datasets) == []
    assert row_counter(instream_rows(datasets)) == row_counter(sample_accepted())

    landing.write("data.csv", SAMPLE.read_bytes())  # same name, new generation: new data
    second = job(buckets, BATCH_SIZE="5000")

    assert second.returncode == 0, second.stderr
    assert second.summary["landing_objects"] == 1
    assert second.summary["version_committed"] == 1
    [manifest] = committed_versions(datasets)
    assert len(manifest.instream_batches) == 2
    assert len({o["generation"] for o in manifest.landing_objects}) == 2
    assert row_counter(all_rows(datasets)) == row_counter(sample_accepted()) + row_counter(sample_accepted())
    assert [b.name for b in datasets.list("instream/")] == []


def test_a_run_with_nothing_new_commits_nothing_and_writes_nothing(buckets) -> None:
    landing, datasets = buckets
    landing.write("data.csv", SAMPLE.read_bytes())
    assert job(buckets, BATCH_SIZE="1000").returncode == 0
    small = SAMPLE.read_text().splitlines(keepends=True)
    landing.write("small.csv", "".join(small[:11]).encode())
    assert job(buckets, BATCH_SIZE="1000").summary["batch"] is not None  # pending, below BATCH_SIZE
    before = snapshot(datasets), snapshot(landing)

    again = job(buckets, BATCH_SIZE="1000")

    assert again.returncode == 0, again.stderr
    assert "nothing new in the landing bucket or from dbapp" in again.messages()
    assert again.summary["batch"] is None and again.summary["version_committed"] is None
    assert (snapshot(datasets), snapshot(landing)) == before
    assert len(committed_versions(datasets)) == 1


@pytest.mark.parametrize("failpoint", ["after_instream_data", "after_version_data", "after_version_manifest"])
def test_a_killed_run_is_repaired_by_the_next_one(buckets, failpoint: str) -> None:
    landing, datasets = buckets
    landing.write("data.csv", SAMPLE.read_bytes())

    crashed = job(buckets, BATCH_SIZE="1000", DATA_JOB_FAILPOINT=failpoint)

    assert crashed.returncode == -signal.SIGKILL
    assert "failpoint reached: killing the process" in crashed.messages()
    assert datasets.exists(LEASE_NAME)  # a killed run cannot release its lease
    names = [b.name for b in datasets.list() if not b.name.startswith("quarantine/") and b.name != LEASE_NAME]
    if failpoint == "after_instream_data":  # batch data without marker, nothing versioned
        assert [n.rsplit(".", 1)[-1] for n in names] == ["parquet"]
    elif failpoint == "after_version_data":  # v1 data without manifest, the batch still committed
        assert committed_versions(datasets) == []
        assert sorted(n for n in names if n.startswith("versioned/")) == [
            "versioned/v1/train.parquet", "versioned/v1/valid.parquet"]  # fmt: skip
        assert len([n for n in names if n.startswith("instream/")]) == 2
    else:  # v1 committed, its absorbed batch not yet deleted
        assert len(committed_versions(datasets)) == 1
        assert len([n for n in names if n.startswith("instream/")]) == 2

    rerun = job(buckets, BATCH_SIZE="1000")

    assert rerun.returncode == 0, rerun.stderr
    assert "took over the lease of a data job that is gone" in rerun.messages()  # its process is dead
    [manifest] = committed_versions(datasets)
    assert manifest.version == 1
    assert row_counter(all_rows(datasets)) == row_counter(sample_accepted())  # no row lost, none twice
    remaining = sorted(b.name for b in datasets.list() if not b.name.startswith("quarantine/"))
    assert remaining == ["versioned/v1/_MANIFEST.json", "versioned/v1/train.parquet", "versioned/v1/valid.parquet"]
    assert rerun.summary["leftovers_cleaned"] == 1
    assert job(buckets, BATCH_SIZE="1000").summary["version_committed"] is None  # and nothing is committed twice


def test_malformed_files_are_quarantined_and_good_rows_still_versioned(buckets) -> None:
    landing, datasets = buckets
    lines = SAMPLE.read_text().splitlines(keepends=True)
    header, good = lines[0], lines[1:21]
    landing.write("good.csv", "".join([header, *good]).encode())
    broken_rows = [
        lines[21],
        lines[22].replace(",3.0,", ",three,", 1),  # bedrooms is not a number
        ",".join(lines[23].split(",")[:-2]) + "\n",  # two values short
        lines[24],
    ]
    landing.write("mixed.csv", "".join([header, *broken_rows]).encode())
    landing.write("no_price.csv", "".join([header.replace("price,", ""), *(",".join(
        v for i, v in enumerate(r.split(",")) if i != 1) for r in good[:3])]).encode())  # fmt: skip
    landing.write("latin1.csv", "".join([header, *good[:3]]).replace("Shoreline", "Sh\xf6reline").encode("latin-1"))
    landing.write("empty.csv", b"")
    landing.write("README.txt", b"not data")

    result = job(buckets, BATCH_SIZE="10")

    assert result.returncode == 0, result.stderr
    assert result.summary["files_invalid"] == 3
    assert result.summary["landing_ignored"] == 1
    [manifest] = committed_versions(datasets)
    assert sorted(o["name"] for o in manifest.landing_objects) == [
        "empty.csv", "good.csv", "latin1.csv", "mixed.csv", "no_price.csv"]  # fmt: skip
    assert len(all_rows(datasets)) == 20 + 2
    generation = {b.name: b.generation for b in landing.list()}

    rejected = list(csv.DictReader(io.StringIO(
        datasets.read(f"quarantine/landing/mixed.csv@{generation['mixed.csv']}.rejected.csv").decode())))  # fmt: skip
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejected] == [
        ("3", "bedrooms"),
        ("4", "has 16 values, the header has 18"),
    ]
    assert "must be a number" in rejected[0]["reason"]

    def reason(name: str) -> str:
        return datasets.read(f"quarantine/landing/{name}@{generation[name]}.reason.txt").decode()

    assert "missing column(s) price" in reason("no_price.csv")
    assert "not UTF-8" in reason("latin1.csv")
    assert "empty" in reason("empty.csv")
    assert datasets.read(f"quarantine/landing/latin1.csv@{generation['latin1.csv']}.file") == landing.read("latin1.csv")

    rerun = job(buckets, BATCH_SIZE="10")
    assert rerun.summary["landing_objects"] == 0  # bad files are consumed too: never read again


def test_configuration_error_exits_2_naming_the_variable(buckets, tmp_path: Path) -> None:
    result = job(buckets, BATCH_SIZE="lots")
    assert result.returncode == 2
    assert any("BATCH_SIZE" in m for m in result.messages("ERROR"))
    assert not (tmp_path / "datasets").exists() or not any((tmp_path / "datasets").iterdir())
    shutil.rmtree(tmp_path / "landing", ignore_errors=True)


def test_a_second_job_exits_5_while_another_holds_the_lease(buckets) -> None:
    landing, datasets = buckets
    landing.write("data.csv", SAMPLE.read_bytes())
    now = datetime.now(UTC)
    holder = LeaseRecord("pod-3:7:0a0b", "pod-3", 7, now.isoformat(), (now + timedelta(minutes=5)).isoformat())
    datasets.write(LEASE_NAME, holder.to_json())

    blocked = job(buckets, real_process=True, BATCH_SIZE="1000")

    assert blocked.returncode == 5
    [message] = blocked.messages("ERROR")
    assert "another data job holds the lease" in message and "owner pod-3:7:0a0b" in message
    assert f"expires {holder.expires_at}" in message
    assert [b.name for b in datasets.list()] == [LEASE_NAME]

    expired = LeaseRecord("pod-3:7:0a0b", "pod-3", 7, now.isoformat(), (now - timedelta(seconds=1)).isoformat())
    datasets.write(LEASE_NAME, expired.to_json())
    taken_over = job(buckets, BATCH_SIZE="1000")

    assert taken_over.returncode == 0, taken_over.messages()
    assert taken_over.summary["version_committed"] == 1
    assert not datasets.exists(LEASE_NAME)  # released at the end


def test_an_object_over_the_size_cap_is_quarantined_unread_and_not_retried(buckets) -> None:
    landing, datasets = buckets
    small = "".join(SAMPLE.read_text().splitlines(keepends=True)[:11]).encode()
    landing.write("small.csv", small)
    big = landing.write("big.csv", SAMPLE.read_bytes())

    first = job(buckets, BATCH_SIZE="5", DATA_JOB_MAX_OBJECT_BYTES=str(len(small)))

    assert first.returncode == 0, first.messages()
    assert (first.summary["files_too_large"], first.summary["files_invalid"]) == (1, 1)
    reason = datasets.read(f"quarantine/landing/big.csv@{big.generation}.reason.txt").decode()
    assert f"{big.size} bytes, over the cap of {len(small)} bytes (DATA_JOB_MAX_OBJECT_BYTES)" in reason
    assert not datasets.exists(f"quarantine/landing/big.csv@{big.generation}.file")
    [manifest] = committed_versions(datasets)
    assert {o["name"]: o.get("invalid", "") != "" for o in manifest.landing_objects} == {
        "big.csv": True,
        "small.csv": False,
    }

    again = job(buckets, BATCH_SIZE="5", DATA_JOB_MAX_OBJECT_BYTES=str(len(small)))
    assert again.summary["landing_objects"] == 0  # consumed: not tried again every run
