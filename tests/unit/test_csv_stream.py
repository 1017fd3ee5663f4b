"""Validating a big landing file piece by piece, read as a stream (`common.csv_stream`, which webapp's uploads
use too), gives exactly what one `validate_csv` call on the whole file gives."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from common.csv_stream import RecordTooLong, stream_records, validate_pieces
from common.csv_validation import FileInvalid, validate_csv

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"


class Trickle(io.RawIOBase):
    """A stream that answers at most `step` bytes per read, like a network reader may."""

    def __init__(self, data: bytes, step: int):
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        out = self._data[self._pos : self._pos + size]
        self._pos += len(out)
        return out


def split_records(data: bytes, chunk_bytes: int, max_record_bytes: int | None = None) -> list[tuple[bytes, int, int]]:
    return list(stream_records(io.BytesIO(data), chunk_bytes, max_record_bytes))


def validate_large_csv(data: bytes, source: str, chunk_bytes: int) -> tuple[pd.DataFrame, list]:
    reports = list(validate_pieces(io.BytesIO(data), source, chunk_bytes))
    return pd.concat([r.accepted for r in reports], ignore_index=True), [r for rep in reports for r in rep.rejected]


def same_result(data: bytes, chunk_bytes: int) -> None:
    whole = validate_csv(data, "f", require_price=True)
    accepted, rejected = validate_large_csv(data, "f", chunk_bytes=chunk_bytes)
    pd.testing.assert_frame_equal(accepted, whole.accepted)
    assert [(r.line, r.reason, r.values) for r in rejected] == [(r.line, r.reason, r.values) for r in whole.rejected]


def test_sample_in_many_pieces_equals_one_call() -> None:
    data = SAMPLE.read_bytes()
    pieces = split_records(data, 20_000)
    assert len(pieces) > 10
    assert max(len(p) for p, _, _ in pieces) < 2 * 20_000  # memory follows the piece size
    same_result(data, 20_000)


def test_a_stream_that_answers_in_small_reads_is_cut_the_same_way() -> None:
    data = SAMPLE.read_bytes()
    assert list(stream_records(Trickle(data, 777), 20_000)) == split_records(data, 20_000)


def test_a_record_longer_than_a_piece_is_kept_whole() -> None:
    header = b"a,b\n"
    long_record = b'1,"' + b"x\n" * 5000 + b'"\n'
    data = header + b"1,2\n" + long_record + b"3,4\n" * 10
    pieces = split_records(data, 1000)
    assert b"".join(p[len(header) :] for p, _, _ in pieces) == data[len(header) :]
    assert any(long_record in p for p, _, _ in pieces)
    assert [lines for _, lines, _ in pieces] == sorted(lines for _, lines, _ in pieces)


def test_quoted_newlines_crlf_bom_and_bad_rows_across_piece_boundaries() -> None:
    lines = SAMPLE.read_text().splitlines()
    header, rows = lines[0], lines[1:200]
    quoted = [r.replace("Shoreline", '"Shore\nline ""north"""', 1) if i % 3 == 0 else r for i, r in enumerate(rows)]
    body = "\r\n".join([header, *quoted]) + "\r\n"
    data = ("\ufeff" + body).encode()
    for chunk_bytes in (600, 5000):
        pieces = [p for p, _, _ in split_records(data, chunk_bytes)]
        assert len(pieces) > 1
        assert all(p.count(b'"') % 2 == 0 for p in pieces)  # never cut inside a quoted field
        same_result(data, chunk_bytes)


def test_a_bad_byte_late_in_the_file_is_reported_at_its_file_position() -> None:
    data = SAMPLE.read_bytes()
    bad = data[:-5000] + b"\xff" + data[-4999:]
    with pytest.raises(FileInvalid) as whole:
        validate_csv(bad, "f")
    with pytest.raises(FileInvalid) as pieces:
        validate_large_csv(bad, "f", chunk_bytes=20_000)
    assert str(pieces.value) == str(whole.value)


def test_small_files_are_one_piece() -> None:
    assert split_records(b"a,b\n1,2\n", 1000) == [(b"a,b\n1,2\n", 0, 0)]
    assert split_records(b"", 1000) == [(b"", 0, 0)]
    assert split_records(b"no newline at all " * 100, 100) == [(b"no newline at all " * 100, 0, 0)]


def test_with_a_record_limit_a_longer_record_stops_the_stream_at_its_start() -> None:
    header = b"a,b\n"
    body = b"1,2\n" * 300
    with pytest.raises(RecordTooLong) as late:
        split_records(header + body + b'1,"' + b"x\n" * 2000 + b'"\n3,4\n', 1000, max_record_bytes=1000)
    assert late.value.start == len(header + body)
    long_record = b'1,"' + b"x\n" * 600 + b'"\n'  # longer than a piece, within the limit: kept whole
    assert split_records(header + long_record, 1000, max_record_bytes=2000)[-1][0].endswith(long_record)
    with pytest.raises(RecordTooLong) as first:
        split_records(b"a,b\r1,2\r" * 300, 1000, max_record_bytes=1000)  # no line feed: the header never ends
    assert first.value.start == 0
    with pytest.raises(FileInvalid, match="f: the record at byte 0 is longer than 1000 bytes"):
        list(validate_pieces(io.BytesIO(b"a,b\r1,2\r" * 300), "f", 1000, max_record_bytes=1000))
