"""The `dataset.version.committed` event, published after a commit, and the record that it was published.

The event id is derived from the manifest (uuid5 of its URL and creation time), so publishing the same
version again yields the same `event_id` and idempotent consumers store it once. After a successful publish
the job writes `events/dataset-versions/v{N}.json`; a run that finds the latest version without that record
(the publish after its commit failed) publishes it again. Older versions are never re-announced.
"""

from __future__ import annotations

import json
import logging
import uuid

from common.blobstore import BlobStore
from common.contracts.events import DatasetVersionCommitted
from common.dataset_versions import Manifest, manifest_path
from common.events import Event

log = logging.getLogger(__name__)

EVENT_TYPE = "dataset.version.committed"
PUBLISHED_PREFIX = "events/dataset-versions/"


def published_record(version: int) -> str:
    return f"{PUBLISHED_PREFIX}v{version}.json"


def version_event(store: BlobStore, manifest: Manifest) -> Event:
    url = f"{store.url}/{manifest_path(manifest.version)}"
    return Event(
        type=EVENT_TYPE,
        data=DatasetVersionCommitted(version=manifest.version, rows=manifest.rows, manifest=url).model_dump(),
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{url}#{manifest.created_at}")),
    )


def is_published(store: BlobStore, manifest: Manifest) -> bool:
    return store.exists(published_record(manifest.version))


def publish_version(store: BlobStore, project: str, manifest: Manifest) -> str:
    """Publish the version's event and record it; raises whatever the bus raised."""
    from common.bus import Publisher  # imported here: runs that publish nothing never load gRPC

    event = version_event(store, manifest)
    message_id = Publisher(project).publish(event)
    record = {"event_id": event.event_id, "message_id": message_id, "topic": event.topic, "project": project}
    store.write(published_record(manifest.version), json.dumps(record).encode(), content_type="application/json")
    log.info(
        "dataset version event published",
        extra={"version": manifest.version, "event_id": event.event_id, "topic": event.topic},
    )
    return message_id
