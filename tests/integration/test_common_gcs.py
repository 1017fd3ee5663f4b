"""The gs:// blob store against the gcp-storage-emulator package."""

import pytest

from common.blobstore import BlobNotFound, open_store


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
