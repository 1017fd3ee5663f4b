"""Validate a CSV stream in pieces, so memory follows the piece size instead of the file size.

`common.csv_validation.validate_csv` holds every row of its input as Python strings while it works (about
27 bytes per byte of input: 3 GB for a 1,000,000-row file), and it is the one authority on what a valid row is,
so it is kept and fed pieces rather than replaced by a different parser such as pandas' chunked reader. The data
job reads landing objects this way, and webapp its uploads. The stream is read a piece at a time and cut at record
boundaries (a newline outside any quoted field: an even number of `"` before it); each piece gets the header, and
its results get line numbers that refer to the whole file. Results are identical to one `validate_csv` call on the
whole file.

A file without any newline outside quotes (a single huge record, a quote left open, or old-Mac `\\r` line ends)
cannot be cut. By default such a record is read whole, however long (the data job bounds that case with its
object size cap, DATA_JOB_MAX_OBJECT_BYTES); with `max_record_bytes` a longer record refuses the file instead, so
memory stays bounded whatever the file holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from common.csv_validation import CsvReport, FileInvalid, Rejected, validate_csv


class RecordTooLong(ValueError):
    """A record (or the header) runs past `max_record_bytes` without a record end."""

    def __init__(self, start: int, limit: int):
        super().__init__(f"the record at byte {start} is longer than {limit} bytes")
        self.start, self.limit = start, limit


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream."""
    parts, got = [], 0
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _first_record_end(data: bytes) -> int:
    """Index of the newline that ends the first record, -1 if it is not in `data`."""
    pos, quotes, start = data.find(b"\n"), 0, 0
    while pos >= 0:
        quotes += data.count(b'"', start, pos)
        if quotes % 2 == 0:
            return pos
        start, pos = pos, data.find(b"\n", pos + 1)
    return -1


def _last_record_end(data: bytes) -> int:
    """Index of the last newline in `data` outside quotes (data starts at a record boundary), or -1."""
    quotes, end = data.count(b'"'), len(data)
    while True:
        pos = data.rfind(b"\n", 0, end)
        if pos < 0:
            return -1
        quotes -= data.count(b'"', pos, end)  # now: quotes before `pos`
        if quotes % 2 == 0:
            return pos
        end = pos


def _check_length(unended: int, start: int, max_record_bytes: int | None) -> None:
    if max_record_bytes is not None and unended > max_record_bytes:
        raise RecordTooLong(start, max_record_bytes)


def stream_records(
    stream: IO[bytes], chunk_bytes: int, max_record_bytes: int | None = None
) -> Iterator[tuple[bytes, int, int]]:
    """Yield (header + whole records, physical lines before the piece's first record, its byte offset).

    The byte offset is that of the piece's first byte as if the header were part of every piece, so
    `offset + position in piece` is a position in the file for any byte after the header. A file of at most
    `chunk_bytes` is one piece. Raises `RecordTooLong` when `max_record_bytes` is given and a record longer than
    that must be read to find its end.
    """
    data = _read_up_to(stream, chunk_bytes + 1)
    header_end = _first_record_end(data)
    while len(data) > chunk_bytes and header_end < 0:
        _check_length(len(data), 0, max_record_bytes)
        more = _read_up_to(stream, chunk_bytes)
        if not more:
            break
        data += more
        header_end = _first_record_end(data)
    if len(data) <= chunk_bytes or header_end < 0:  # small, or nowhere to cut: one piece
        yield data + stream.read(), 0, 0
        return
    header, pending = data[: header_end + 1], data[header_end + 1 :]
    del data
    offset, lines_before, eof = len(header), 0, False
    while True:
        if not eof and len(pending) < chunk_bytes:
            want = chunk_bytes - len(pending)
            more = _read_up_to(stream, want)
            eof, pending = len(more) < want, pending + more
        cut = len(pending) - 1 if eof else _last_record_end(pending)
        if cut < 0 and not eof:  # one record longer than a piece: read on
            _check_length(len(pending), offset, max_record_bytes)
            more = _read_up_to(stream, chunk_bytes)
            eof, pending = len(more) < chunk_bytes, pending + more
            continue
        body, pending = pending[: cut + 1], pending[cut + 1 :]
        if body:
            yield header + body, lines_before, offset - len(header)
        if eof and not pending:
            return
        lines_before += body.count(b"\n")
        offset += len(body)


def validate_pieces(
    stream: IO[bytes], source: str, chunk_bytes: int, max_record_bytes: int | None = None
) -> Iterator[CsvReport]:
    """`validate_csv(..., require_price=True)` piece by piece, line numbers and byte positions file-wide.

    Raises `FileInvalid` as soon as a piece shows the whole file cannot be read, or a record is longer than
    `max_record_bytes`.
    """
    try:
        for piece, lines_before, byte_offset in stream_records(stream, chunk_bytes, max_record_bytes):
            try:
                report = validate_csv(piece, source, require_price=True)
            except FileInvalid as exc:
                cause = exc.__cause__
                if byte_offset and isinstance(cause, UnicodeDecodeError):
                    raise FileInvalid(f"{source}: not UTF-8 text (byte {byte_offset + cause.start})") from cause
                raise
            del piece
            report.rejected = [Rejected(r.line + lines_before, r.reason, r.values) for r in report.rejected]
            yield report
    except RecordTooLong as exc:
        raise FileInvalid(f"{source}: {exc} (is a quote left open, or are lines not ended by a line feed?)") from exc
