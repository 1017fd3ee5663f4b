"""The data job against `gs://` buckets in the gcp-storage-emulator: crash, repair, then a no-op run."""

from __future__ import annotations

import signal

from common.blobstore import open_store
from common.dataset_versions import committed_versions
from data_versioning.lease import LEASE_NAME
from tests.integration.data_job_fixtures import SAMPLE, all_rows, row_counter, run_job, sample_accepted, snapshot


def test_gs_buckets_crash_between_version_data_and_manifest_then_rerun(gcs_bucket: str) -> None:
    landing_url, datasets_url = f"{gcs_bucket}/landing", f"{gcs_bucket}/datasets"
    landing, datasets = open_store(landing_url), open_store(datasets_url)
    upload = landing.write("drop/data.csv", SAMPLE.read_bytes())

    crashed = run_job(landing_url, datasets_url, BATCH_SIZE="1000", DATA_JOB_FAILPOINT="after_version_data")

    assert crashed.returncode == -signal.SIGKILL
    assert datasets.exists(LEASE_NAME)  # the killed run's lease: its process is dead, the rerun takes it over
    assert committed_versions(datasets) == []
    assert {b.name for b in datasets.list("versioned/")} == {"versioned/v1/train.parquet", "versioned/v1/valid.parquet"}

    rerun = run_job(landing_url, datasets_url, in_process=True, BATCH_SIZE="1000")

    assert rerun.returncode == 0, rerun.messages()
    assert rerun.summary["leftovers_cleaned"] == 1
    assert not datasets.exists(LEASE_NAME)
    [manifest] = committed_versions(datasets)
    assert [(o["name"], o["generation"]) for o in manifest.landing_objects] == [("drop/data.csv", upload.generation)]
    assert row_counter(all_rows(datasets)) == row_counter(sample_accepted())
    assert [b.name for b in datasets.list("instream/")] == []
    assert len(list(datasets.list("quarantine/"))) == 1
    before = snapshot(datasets)

    again = run_job(landing_url, datasets_url, in_process=True, BATCH_SIZE="1000")

    assert again.returncode == 0
    assert again.summary["landing_objects"] == 0 and again.summary["version_committed"] is None
    assert snapshot(datasets) == before
