"""The gs:// store's conditional writes: what it asks GCS for, and how a lost race comes back.

The storage emulator the integration tests use (tests/integration/test_common_gcs.py) ignores
`ifGenerationMatch`, so the precondition itself is GCS's to enforce; here the client library is replaced by a
mock to check that every conditional call carries it and that GCS's 412 becomes `PreconditionFailed`.
"""

from __future__ import annotations

from unittest import mock

import pytest
from google.api_core import exceptions as gexc

from common.blobstore import PreconditionFailed
from common.blobstore_gcs import GcsBlobStore


def store_and_blob() -> tuple[GcsBlobStore, mock.MagicMock]:
    """The store on a mock client, and the mock every `bucket.blob(...)` call returns."""
    client = mock.MagicMock()
    blob = client.bucket.return_value.blob.return_value
    blob.generation, blob.size, blob.updated = 42, 3, None
    return GcsBlobStore("bucket", "datasets", client=client), blob


def test_create_asks_for_generation_zero_and_maps_412() -> None:
    store, blob = store_and_blob()
    assert store.create_if_absent("_lease.json", b"abc").generation == 42
    assert blob.upload_from_string.call_args.kwargs["if_generation_match"] == 0
    blob.upload_from_string.side_effect = gexc.PreconditionFailed("exists")
    with pytest.raises(PreconditionFailed, match=r"gs://bucket/datasets/_lease\.json already exists"):
        store.create_if_absent("_lease.json", b"abc")


def test_replace_and_delete_ask_for_the_generation_read() -> None:
    store, blob = store_and_blob()
    store.replace_if_generation("_lease.json", b"abc", 41)
    assert blob.upload_from_string.call_args.kwargs["if_generation_match"] == 41
    store.delete_if_generation("_lease.json", 42)
    assert blob.delete.call_args.kwargs == {"if_generation_match": 42}
    for failure in (gexc.PreconditionFailed("changed"), gexc.NotFound("gone")):
        blob.upload_from_string.side_effect = failure
        blob.delete.side_effect = failure
        with pytest.raises(PreconditionFailed):
            store.replace_if_generation("_lease.json", b"abc", 41)
        with pytest.raises(PreconditionFailed):
            store.delete_if_generation("_lease.json", 42)


def test_versioned_read_pins_the_generation_it_reports() -> None:
    client = mock.MagicMock()
    store = GcsBlobStore("bucket", "datasets", client=client)
    meta = client.bucket.return_value.get_blob.return_value
    meta.generation, meta.size, meta.updated = 7, 3, None
    meta.download_as_bytes.return_value = b"abc"
    data, info = store.read_versioned("_lease.json")
    assert (data, info.generation) == (b"abc", 7)
    assert meta.download_as_bytes.call_args.kwargs == {"if_generation_match": 7}
