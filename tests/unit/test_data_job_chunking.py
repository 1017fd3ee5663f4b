"""Validating a big landing file piece by piece gives exactly what one `validate_csv` call gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from common.csv_validation import FileInvalid, validate_csv
from data_versioning.chunking import split_records, validate_large_csv

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"


def same_result(data: bytes, chunk_bytes: int) -> None:
    whole = validate_csv(data, "f", require_price=True)
    pieces = validate_large_csv(data, "f", chunk_bytes=chunk_bytes)
    pd.testing.assert_frame_equal(pieces.accepted, whole.accepted)
    assert [(r.line, r.reason, r.values) for r in pieces.rejected] == [
        (r.line, r.reason, r.values) for r in whole.rejected
    ]


def test_sample_in_many_pieces_equals_one_call() -> None:
    data = SAMPLE.read_bytes()
    assert len(list(split_records(data, 20_000))) > 10
    same_result(data, 20_000)


def test_quoted_newlines_crlf_bom_and_bad_rows_across_piece_boundaries() -> None:
    lines = SAMPLE.read_text().splitlines()
    header, rows = lines[0], lines[1:200]
    quoted = [r.replace("Shoreline", '"Shore\nline ""north"""', 1) if i % 3 == 0 else r for i, r in enumerate(rows)]
    body = "\r\n".join([header, *quoted]) + "\r\n"
    data = ("\ufeff" + body).encode()
    for chunk_bytes in (600, 5000):
        pieces = [p for p, _, _ in split_records(data, chunk_bytes)]
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
    assert list(split_records(b"a,b\n1,2\n", 1000)) == [(b"a,b\n1,2\n", 0, 0)]
    assert list(split_records(b"", 1000)) == [(b"", 0, 0)]
