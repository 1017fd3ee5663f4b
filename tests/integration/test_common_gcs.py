"""The gs:// blob store against the gcp-storage-emulator package."""

import io

import pytest

from common import blobstore_gcs
from common.blobstore import BlobNotFound, PreconditionFailed, open_store


def test_gcs_store_round_trip(gcs_bucket: str):
    store = open_store(gcs_bucket + "/prefix")
    info = store.write("versioned/v1/train.parquet", b"data")
    store.write("instream/a.json", b"{}")
    assert info.generation > 0
    assert [b.name for b in store.list("versioned/")] == ["versioned/v1/train.parquet"]
    assert store.read("versioned/v1/train.parquet") == b"data"
    assert store.exists("instream/a.json")
    store.delete("instream/a.json")
    store.delete("instream/a.json")  # deleting twice is not an error
    assert not store.exists("instream/a.json")
    with pytest.raises(BlobNotFound):
        store.read("instream/a.json")
    # The prefix isolates this store from the rest of the bucket.
    assert [b.name for b in open_store(gcs_bucket).list()] == ["prefix/versioned/v1/train.parquet"]


def test_gcs_conditional_writes_and_versioned_read(gcs_bucket: str):
    store = open_store(gcs_bucket + "/datasets")
    created = store.create_if_absent("_lease.json", b'{"owner": "a"}')
    assert created.generation > 0 and created.updated is not None
    data, info = store.read_versioned("_lease.json")
    assert (data, info.generation) == (b'{"owner": "a"}', created.generation)
    replaced = store.replace_if_generation("_lease.json", b'{"owner": "b"}', created.generation)
    assert replaced.generation != created.generation
    assert store.read("_lease.json") == b'{"owner": "b"}'
    store.delete_if_generation("_lease.json", replaced.generation)
    assert not store.exists("_lease.json")
    with pytest.raises(BlobNotFound):
        store.read_versioned("_lease.json")


def test_gcs_preconditions_are_enforced(gcs_bucket: str):
    """Against real GCS a lost race is `PreconditionFailed`. The gcp-storage-emulator accepts `ifGenerationMatch`
    and ignores it; then this test says so and skips (tests/unit/test_blobstore_gcs.py checks what is sent)."""
    store = open_store(gcs_bucket)
    first = store.create_if_absent("x.json", b"1")
    try:
        store.create_if_absent("x.json", b"2")
    except PreconditionFailed:
        pass
    else:
        pytest.skip("this storage emulator ignores ifGenerationMatch: preconditions cannot be tested against it")
    with pytest.raises(PreconditionFailed):
        store.replace_if_generation("x.json", b"3", first.generation + 1)
    with pytest.raises(PreconditionFailed):
        store.delete_if_generation("x.json", first.generation + 1)
    assert store.read("x.json") == b"1"


def test_gcs_streamed_read_and_write(gcs_bucket: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(blobstore_gcs, "STREAM_CHUNK_BYTES", 256 * 1024)  # several chunks for a 1.5 MB object
    store = open_store(gcs_bucket)
    data = bytes(range(256)) * 6000
    written = store.write_from("big.bin", io.BytesIO(data))
    assert written.size == len(data)
    with store.open_read("big.bin", written.generation) as stream:
        parts = iter(lambda: stream.read(100_000), b"")
        assert b"".join(parts) == data
    store.write("big.bin", b"rewritten")
    with pytest.raises(BlobNotFound, match="no longer current"), store.open_read("big.bin", written.generation):
        pass
    with pytest.raises(BlobNotFound, match="does not exist"), store.open_read("missing.bin"):
        pass
