"""The `dataset.version.committed` event reaches the real Pub/Sub emulator, once per version."""

from __future__ import annotations

import time
from pathlib import Path

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from common.blobstore import FileBlobStore
from common.bus import ensure_subscription, ensure_topics
from common.dataset_versions import committed_versions
from common.events import TOPIC_DATASET_VERSIONS, Event
from data_versioning.publishing import version_event
from tests.integration.data_job_fixtures import SAMPLE, run_job


def pull(project: str, subscription: str, wait: float) -> list[Event]:
    """Everything delivered within `wait` seconds, acknowledged."""
    client = pubsub_v1.SubscriberClient()
    path = client.subscription_path(project, subscription)
    events, deadline = [], time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            try:
                response = client.pull(request={"subscription": path, "max_messages": 10}, timeout=2.0)
            except (gexc.DeadlineExceeded, gexc.RetryError):
                continue
            if response.received_messages:
                client.acknowledge(
                    request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]}
                )
                events += [Event.from_json(m.message.data) for m in response.received_messages]
                deadline = min(deadline, time.monotonic() + 1.0)  # drain what else is there, briefly
    finally:
        client.close()
    return events


def test_committed_version_is_announced_once(pubsub_emulator: str, gcp_project: str, tmp_path: Path) -> None:
    landing, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    landing.write("data.csv", SAMPLE.read_bytes())
    ensure_topics(gcp_project, [TOPIC_DATASET_VERSIONS])
    ensure_subscription(gcp_project, "test-dataset-versions", TOPIC_DATASET_VERSIONS)
    env = {"GCP_PROJECT": gcp_project, "PUBSUB_EMULATOR_HOST": pubsub_emulator, "BATCH_SIZE": "1000"}
    del_publish = {"PUBLISH_EVENTS": ""}  # not set: publishing is on because a bus is configured

    first = run_job(landing.url, datasets.url, **env, **del_publish)

    assert first.returncode == 0, first.stderr
    [manifest] = committed_versions(datasets)
    [event] = pull(gcp_project, "test-dataset-versions", wait=15)
    assert event.type == "dataset.version.committed"
    assert event.data == {
        "version": 1,
        "rows": manifest.rows,
        "manifest": f"{datasets.url}/versioned/v1/_MANIFEST.json",
    }
    assert datasets.exists("events/dataset-versions/v1.json")

    again = run_job(landing.url, datasets.url, in_process=True, **env, **del_publish)

    assert again.returncode == 0
    assert pull(gcp_project, "test-dataset-versions", wait=3) == []  # nothing new, nothing announced


def test_failed_publish_exits_nonzero_keeps_the_version_and_the_next_run_publishes_it(
    pubsub_emulator: str, gcp_project: str, tmp_path: Path
) -> None:
    landing, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    landing.write("data.csv", SAMPLE.read_bytes())
    env = {"GCP_PROJECT": gcp_project, "PUBSUB_EMULATOR_HOST": pubsub_emulator, "BATCH_SIZE": "1000",
           "PUBLISH_EVENTS": "true"}  # fmt: skip

    failed = run_job(landing.url, datasets.url, in_process=True, **env)  # the topic does not exist yet

    assert failed.returncode == 3
    assert any("PUBLISHING FAILED" in m for m in failed.messages("ERROR"))
    assert [m.version for m in committed_versions(datasets)] == [1]
    assert not datasets.exists("events/dataset-versions/v1.json")

    ensure_topics(gcp_project, [TOPIC_DATASET_VERSIONS])
    ensure_subscription(gcp_project, "test-dataset-versions", TOPIC_DATASET_VERSIONS)
    retried = run_job(landing.url, datasets.url, in_process=True, **env)

    assert retried.returncode == 0
    assert retried.summary["version_committed"] is None  # not committed twice
    [event] = pull(gcp_project, "test-dataset-versions", wait=15)
    assert event.data["version"] == 1
    [manifest] = committed_versions(datasets)
    assert event.event_id == version_event(datasets, manifest).event_id  # the same id on every retry
    assert datasets.exists("events/dataset-versions/v1.json")
