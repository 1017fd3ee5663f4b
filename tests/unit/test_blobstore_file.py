"""The file:// blob store: atomic writes, listing by prefix, generations that change on rewrite, conditional
writes that exactly one of several racing writers wins, streamed reads and writes."""

import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from common.blobstore import BlobNotFound, PreconditionFailed, open_store


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


def test_create_if_absent_creates_once(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    info = store.create_if_absent("locks/a.json", b"first")
    assert store.read_versioned("locks/a.json") == (b"first", info)
    with pytest.raises(PreconditionFailed, match="already exists"):
        store.create_if_absent("locks/a.json", b"second")
    assert store.read("locks/a.json") == b"first"
    assert [b.name for b in store.list()] == ["locks/a.json"]  # no temporary file left behind


def test_replace_and_delete_only_at_the_expected_generation(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    first = store.create_if_absent("a.json", b"1")
    second = store.replace_if_generation("a.json", b"2", first.generation)
    assert second.generation > first.generation  # strictly forward, even within one clock tick
    with pytest.raises(PreconditionFailed):
        store.replace_if_generation("a.json", b"stale", first.generation)
    with pytest.raises(PreconditionFailed):
        store.delete_if_generation("a.json", first.generation)
    assert store.read("a.json") == b"2"
    store.delete_if_generation("a.json", second.generation)
    assert not store.exists("a.json")
    with pytest.raises(PreconditionFailed):
        store.replace_if_generation("a.json", b"3", second.generation)  # gone: nothing to replace


def test_quick_rewrites_get_distinct_generations(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    generations = [store.write("x.csv", str(i).encode()).generation for i in range(50)]
    assert len(set(generations)) == 50


def race(write: Callable[[int], object], threads: int = 8) -> list[bool]:
    """Run `write(i)` in `threads` threads released at once; which of them succeeded (no PreconditionFailed)."""
    start = threading.Barrier(threads)

    def attempt(i: int) -> bool:
        start.wait()
        try:
            write(i)
        except PreconditionFailed:
            return False
        return True

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(attempt, range(threads)))


def test_of_many_threads_creating_one_object_exactly_one_wins(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    wins = race(lambda i: store.create_if_absent("lease.json", str(i).encode()))
    assert wins.count(True) == 1
    assert store.read("lease.json") == str(wins.index(True)).encode()


def test_of_many_threads_replacing_one_generation_exactly_one_wins(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    base = store.create_if_absent("lease.json", b"old")
    wins = race(lambda i: store.replace_if_generation("lease.json", str(i).encode(), base.generation))
    assert wins.count(True) == 1


def test_streaming_read_and_write(tmp_path: Path):
    store = open_store((tmp_path / "bucket").as_uri())
    data = bytes(range(256)) * 10_000
    info = store.write_from("big.bin", io.BytesIO(data))
    assert info.size == len(data)
    with store.open_read("big.bin", info.generation) as stream:
        assert stream.read(1000) == data[:1000]
        assert stream.read() == data[1000:]
    store.write("big.bin", b"rewritten")
    with pytest.raises(BlobNotFound, match="no longer current"), store.open_read("big.bin", info.generation):
        pass
    with pytest.raises(BlobNotFound, match="does not exist"), store.open_read("missing.bin"):
        pass
