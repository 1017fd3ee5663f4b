"""Uploads are validated and stored as a stream: the same report and stored rows as one whole-file validation,
however small the pieces, a bounded report, and memory that follows the piece size instead of the file size."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from common.blobstore import FileBlobStore
from common.csv_validation import FileInvalid, validate_csv
from webapp import upload
from webapp.upload import validate_and_store

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"


def tricky_csv(rows: int) -> bytes:
    """Sample rows with a BOM, CRLF line ends, and quoted streets holding newlines and quotes every third row."""
    header, *lines = SAMPLE.read_text().splitlines()
    quoted = [r.replace("Shoreline", '"Shore\nline ""north"""', 1) if i % 3 == 0 else r for i, r in enumerate(lines)]
    return ("\ufeff" + "\r\n".join([header, *quoted[:rows]]) + "\r\n").encode()


def stored_bytes(store: FileBlobStore, report: upload.UploadReport) -> bytes:
    assert report.stored_name is not None
    return store.read(report.stored_name)


@pytest.mark.parametrize("piece_bytes", [600, 3_000])
def test_small_pieces_give_the_report_and_stored_rows_of_one_whole_validation(tmp_path: Path, piece_bytes: int) -> None:
    data = tricky_csv(300)
    whole = validate_csv(data, "houses.csv", require_price=True)
    assert whole.rejected and len(whole.rejected) < upload.MAX_REJECTED_KEPT

    store = FileBlobStore(tmp_path / "landing")
    report = validate_and_store(io.BytesIO(data), "houses.csv", store, piece_bytes=piece_bytes)

    assert len(data) > 10 * piece_bytes
    assert report.file_error is None and report.accepted == len(whole.accepted)
    assert report.rejected_count == len(whole.rejected)
    assert [(r.line, r.reason) for r in report.rejected] == [(r.line, r.reason) for r in whole.rejected]
    assert stored_bytes(store, report) == whole.accepted.to_csv(index=False).encode()


def test_streamed_and_one_piece_store_the_same_object(tmp_path: Path) -> None:
    data = tricky_csv(300)
    store = FileBlobStore(tmp_path / "landing")
    one_piece = validate_and_store(io.BytesIO(data), "a.csv", store, piece_bytes=len(data))
    pieces = validate_and_store(io.BytesIO(data), "b.csv", store, piece_bytes=700)
    assert stored_bytes(store, pieces) == stored_bytes(store, one_piece)
    assert (pieces.accepted, pieces.rejected, pieces.rejected_count) == (
        one_piece.accepted,
        one_piece.rejected,
        one_piece.rejected_count,
    )


def test_rejected_rows_past_the_kept_number_are_counted_not_kept(tmp_path: Path) -> None:
    header, good = SAMPLE.read_text().splitlines()[:2]
    bad = good.replace("Shoreline", "Shoreline,extra", 1)  # one value too many
    data = "\n".join([header, good, *([bad] * 1_200)]).encode()
    report = validate_and_store(io.BytesIO(data), "bad.csv", FileBlobStore(tmp_path / "landing"), piece_bytes=4_000)
    assert report.accepted == 1 and report.stored
    assert report.rejected_count == 1_200 and report.rejected_not_kept == 1_200 - upload.MAX_REJECTED_KEPT
    assert [r.line for r in report.rejected] == list(range(3, 3 + upload.MAX_REJECTED_KEPT))
    assert all(r.values == {} for r in report.rejected)  # line and reason only: the page shows no values


def test_a_bad_byte_in_a_later_piece_is_reported_at_its_file_position_and_nothing_is_stored(tmp_path: Path) -> None:
    data = tricky_csv(300).removeprefix(b"\xef\xbb\xbf")  # byte positions count from after a BOM
    bad = data[:-2_000] + b"\xff" + data[-1_999:]
    with pytest.raises(FileInvalid) as whole:
        validate_csv(bad, "late.csv")
    store = FileBlobStore(tmp_path / "landing")
    report = validate_and_store(io.BytesIO(bad), "late.csv", store, piece_bytes=1_000)
    assert report.file_error == str(whole.value) and f"byte {len(data) - 2_000}" in report.file_error
    assert (report.accepted, report.rejected_count, report.stored) == (0, 0, False)
    assert store.list() == []


@pytest.mark.parametrize(
    "data",
    [
        tricky_csv(100).replace(b"\r\n", b"\r"),  # old-Mac line ends: no line feed at all
        SAMPLE.read_bytes()[:16_000].replace(b",Seattle", b',"Seattle', 1),  # a quote left open
    ],
)
def test_a_record_longer_than_a_piece_refuses_the_file_instead_of_reading_it_whole(tmp_path: Path, data: bytes) -> None:
    store = FileBlobStore(tmp_path / "landing")
    report = validate_and_store(io.BytesIO(data), "odd.csv", store, piece_bytes=2_000)
    assert report.file_error and "longer than 2000 bytes" in report.file_error
    assert store.list() == []


def test_a_file_within_one_piece_is_read_whole_whatever_its_line_ends(tmp_path: Path) -> None:
    data = tricky_csv(100).replace(b"\r\n", b"\r")
    whole = validate_csv(data, "mac.csv")
    store = FileBlobStore(tmp_path / "landing")
    report = validate_and_store(io.BytesIO(data), "mac.csv", store, piece_bytes=len(data))
    assert report.accepted == len(whole.accepted) > 0
    assert stored_bytes(store, report) == whole.accepted.to_csv(index=False).encode()


def test_memory_while_validating_and_storing_does_not_follow_the_file_size(tmp_path: Path) -> None:
    """Peak traced memory for a file of about 90 pieces stays a fraction of the file (the whole-file path needed
    about 20 times the file). It includes the landing store's 1 MiB copy buffer. Rows carry an extra 1,500-byte
    column that validation ignores, so the file is large while tracing stays quick."""
    header, *rows = SAMPLE.read_bytes().splitlines(keepends=True)
    pad = b"," + b"x" * 1500 + b"\n"
    path = tmp_path / "big.csv"
    path.write_bytes(header.rstrip(b"\n") + b",notes\n" + b"".join(row.rstrip(b"\n") + pad for row in rows))
    size = path.stat().st_size  # ~5.8 MB
    store = FileBlobStore(tmp_path / "landing")
    validate_and_store(io.BytesIO(header + rows[0]), "warm.csv", store)  # imports and first-use caches
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            report = validate_and_store(stream, "big.csv", store, piece_bytes=64 * 1024)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert report.stored and report.accepted + report.rejected_count == len(rows)
    assert peak < size / 3, f"peak {peak} bytes while validating and storing {size} bytes"
