"""The file:// blob store: atomic writes, listing by prefix, generations that change on rewrite."""

from pathlib import Path

import pytest

from common.blobstore import BlobNotFound, open_store


def test_write_read_list_delete(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    first = store.write("a/x.csv", b"1")
    store.write("b/y.csv", b"22")
    assert [b.name for b in store.list("a/")] == ["a/x.csv"]
    assert store.read("a/x.csv") == b"1"
    second = store.write("a/x.csv", b"changed")
    assert second.generation != first.generation
    store.delete("a/x.csv")
    assert not store.exists("a/x.csv")
    with pytest.raises(BlobNotFound, match=r"a/x\.csv does not exist"):
        store.read("a/x.csv")


def test_names_cannot_escape_the_bucket(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    with pytest.raises(ValueError, match="escapes the bucket"):
        store.write("../outside", b"x")


def test_temporary_files_are_not_listed(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    (tmp_path / "bucket" / ".tmp-half-written").write_bytes(b"x")
    assert store.list() == []


def test_unsupported_url():
    with pytest.raises(ValueError, match="unsupported bucket URL 's3://x'"):
        open_store("s3://x")
