"""Validate a large CSV file in pieces, so memory follows the piece size instead of the file size.

`common.csv_validation.validate_csv` holds every row of its input as Python strings while it works (about
3 GB for a 1,000,000-row file). Big landing files are therefore cut at record boundaries (a newline outside
any quoted field: an even number of `"` before it), each piece gets the header, and the pieces' results are
joined with line numbers that refer to the whole file. Results are identical to one `validate_csv` call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from common.csv_validation import CsvReport, FileInvalid, Rejected, validate_csv

CHUNK_BYTES = 24 * 1024 * 1024  # ~200,000 rows of the seed's format


def split_records(data: bytes, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[bytes, int, int]]:
    """Yield (header + whole records, physical lines before the piece's first record, its byte offset)."""
    header_end = data.find(b"\n")
    if len(data) <= chunk_bytes or header_end < 0 or data.count(b'"', 0, header_end) % 2:
        yield data, 0, 0
        return
    header = data[: header_end + 1]
    pos, lines_before = header_end + 1, 0
    while pos < len(data):
        cut = min(pos + chunk_bytes, len(data))
        if cut < len(data):
            newline = data.find(b"\n", cut - 1)
            while newline >= 0 and data.count(b'"', pos, newline) % 2:
                newline = data.find(b"\n", newline + 1)
            cut = len(data) if newline < 0 else newline + 1
        body = data[pos:cut]
        yield header + body, lines_before, pos - len(header)
        lines_before += body.count(b"\n")
        pos = cut


def validate_large_csv(data: bytes, source: str, chunk_bytes: int = CHUNK_BYTES) -> CsvReport:
    """`validate_csv(data, source, require_price=True)`, piece by piece."""
    accepted: list[pd.DataFrame] = []
    rejected: list[Rejected] = []
    for piece, lines_before, byte_offset in split_records(data, chunk_bytes):
        try:
            report = validate_csv(piece, source, require_price=True)
        except FileInvalid as exc:
            cause = exc.__cause__
            if byte_offset and isinstance(cause, UnicodeDecodeError):
                raise FileInvalid(f"{source}: not UTF-8 text (byte {byte_offset + cause.start})") from cause
            raise
        accepted.append(report.accepted)
        rejected += [Rejected(r.line + lines_before, r.reason, r.values) for r in report.rejected]
        del piece, report
    frame = accepted[0] if len(accepted) == 1 else pd.concat(accepted, ignore_index=True)
    return CsvReport(source=source, accepted=frame, rejected=rejected)
