"""Reading one landing object: streamed in pieces, the same rows as one whole-file validation, memory that does
not follow the file size, and an object over the size cap quarantined without being read."""

from __future__ import annotations

import contextlib
import logging
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from common.blobstore import BlobInfo, FileBlobStore
from common.csv_validation import validate_csv
from data_versioning import landing

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"


class NeverRead(FileBlobStore):
    """A landing bucket that fails the test if an object's content is touched."""

    def read(self, name: str) -> bytes:
        raise AssertionError(f"{name} was read")

    def open_read(self, name: str, generation: int | None = None) -> contextlib.AbstractContextManager:
        raise AssertionError(f"{name} was opened")


def sample_times(copies: int) -> bytes:
    header, *rows = SAMPLE.read_bytes().splitlines(keepends=True)
    return header + b"".join(rows) * copies


def test_an_object_over_the_cap_is_quarantined_unread_with_size_and_cap(tmp_path: Path) -> None:
    source, datasets = NeverRead(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    big = BlobInfo("drop/big.csv", 17, 2_000_001)
    result = landing.read_object(source, datasets, big, max_bytes=2_000_000)
    assert result is not None and result.accepted == 0
    assert result.record() == {
        "name": "drop/big.csv",
        "generation": 17,
        "accepted": 0,
        "rejected": 0,
        "invalid": result.invalid,
    }  # recorded in the marker like any invalid file: consumed, never tried again
    reason = datasets.read("quarantine/landing/drop/big.csv@17.reason.txt").decode()
    assert "2000001 bytes, over the cap of 2000000 bytes (DATA_JOB_MAX_OBJECT_BYTES)" in reason
    assert [b.name for b in datasets.list()] == ["quarantine/landing/drop/big.csv@17.reason.txt"]


def test_a_file_of_many_pieces_gives_the_rows_and_quarantine_of_one_validation(tmp_path: Path) -> None:
    source, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    data = sample_times(3)
    blob = source.write("data.csv", data)
    result = landing.read_object(source, datasets, blob, max_bytes=len(data), chunk_bytes=50_000)
    assert result is not None and len(result.frames) > 20
    whole = validate_csv(data, f"{source.url}/data.csv")
    pd.testing.assert_frame_equal(pd.concat(result.frames, ignore_index=True), whole.accepted)
    assert result.rejected == len(whole.rejected) > 0
    assert datasets.read(f"quarantine/landing/data.csv@{blob.generation}.rejected.csv") == whole.rejected_csv()


def test_an_unreadable_file_is_copied_to_the_quarantine_by_streaming(tmp_path: Path) -> None:
    source, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    data = sample_times(2)
    bad = data[:-300] + b"\xff" + data[-299:]  # not UTF-8, in the last piece
    blob = source.write("late.csv", bad)
    result = landing.read_object(source, datasets, blob, max_bytes=len(bad), chunk_bytes=50_000)
    assert result is not None and result.frames == [] and "not UTF-8" in (result.invalid or "")
    assert datasets.read(f"quarantine/landing/late.csv@{blob.generation}.file") == bad
    assert not datasets.exists(f"quarantine/landing/late.csv@{blob.generation}.rejected.csv")


def test_an_object_rewritten_since_the_listing_is_left_for_the_next_run(tmp_path: Path) -> None:
    source, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    listed = source.write("data.csv", sample_times(1))
    source.write("data.csv", sample_times(1))
    assert landing.read_object(source, datasets, listed, max_bytes=10**9) is None
    assert datasets.list() == []


def test_memory_while_reading_does_not_follow_the_file_size(tmp_path: Path) -> None:
    """Peak memory above what the result keeps, for a file over 60 pieces long: about ten pieces' worth, a small
    fraction of the file (reading the object whole would need the file's size for the bytes alone). Rows carry
    an extra 1,500-byte column the job ignores, so the file is large while tracing stays quick."""
    source, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    header, *rows = SAMPLE.read_bytes().splitlines(keepends=True)
    pad = b"," + b"x" * 1500 + b"\n"
    data = header.rstrip(b"\n") + b",notes\n" + b"".join(row.rstrip(b"\n") + pad for row in rows)  # ~5.8 MB
    blob = source.write("big.csv", data)
    del data, rows
    tracemalloc.start()
    try:
        result = landing.read_object(source, datasets, blob, max_bytes=blob.size, chunk_bytes=64 * 1024)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result is not None and len(result.frames) > 60
    assert result.accepted + result.rejected == 3583
    assert peak - kept < blob.size / 4, f"{peak - kept} bytes above the result while reading {blob.size} bytes"


def test_a_long_read_logs_its_progress_piece_by_piece(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source, datasets = FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")
    big, small = source.write("big.csv", sample_times(3)), source.write("small.csv", sample_times(1))
    with caplog.at_level(logging.INFO, logger="data_versioning.landing"):
        result = landing.read_object(source, datasets, big, max_bytes=big.size, chunk_bytes=200_000)
        landing.read_object(source, datasets, small, max_bytes=small.size, chunk_bytes=small.size)
    progress = [r for r in caplog.records if hasattr(r, "piece")]
    assert [r.piece for r in progress] == list(range(1, len(result.frames) + 1))
    assert {r.object for r in progress} == {"big.csv"}  # one piece is not a long read
    assert progress[-1].rows_read == result.accepted + result.rejected
    assert progress[-1].getMessage().startswith(f"reading big.csv: {progress[-1].rows_read:,} rows so far (piece")
