"""Where rejected input goes in the datasets bucket. Names are deterministic, so a rerun of the same input
overwrites its quarantine entry instead of adding a second one.

    quarantine/landing/<object>@<generation>.rejected.csv   bad rows: line, reason, original values
    quarantine/landing/<object>@<generation>.file           a whole unreadable file, byte for byte
    quarantine/landing/<object>@<generation>.reason.txt     why that file could not be read (alone, without the
                                                            copy, for an object over the size cap)
    quarantine/corrections/after-<hash of cursor>.rejected.csv  bad corrections: event_id, cursor, reason, values
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from common.blobstore import BlobStore
from common.csv_validation import Rejected
from common.schema import TRAINING_COLUMNS

PREFIX = "quarantine/"


def landing_key(name: str, generation: int) -> str:
    return f"{PREFIX}landing/{name}@{generation}"


def rejected_rows_name(name: str, generation: int) -> str:
    return landing_key(name, generation) + ".rejected.csv"


def invalid_file_names(name: str, generation: int) -> tuple[str, str]:
    key = landing_key(name, generation)
    return key + ".file", key + ".reason.txt"


def corrections_name(after_cursor: str | None) -> str:
    token = hashlib.sha256(("" if after_cursor is None else after_cursor).encode()).hexdigest()[:16]
    return f"{PREFIX}corrections/after-{token}.rejected.csv"


@dataclass(frozen=True)
class RejectedCorrection:
    event_id: str
    cursor: str
    reason: str
    values: dict[str, Any] = field(default_factory=dict)


def corrections_csv(rejected: Iterable[RejectedCorrection]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["event_id", "cursor", "reason", *TRAINING_COLUMNS])
    for r in rejected:
        writer.writerow([r.event_id, r.cursor, r.reason, *(r.values.get(c, "") for c in TRAINING_COLUMNS)])
    return buf.getvalue().encode()


class RejectedRows:
    """The rejected rows of one landing object, spooled to a temporary file as they come, piece by piece:
    a file of nothing but bad rows must not be held in memory either. Written as `line, reason, values`."""

    SPOOL_BYTES = 4 * 1024 * 1024  # kept in memory up to this size, on disk beyond

    def __init__(self) -> None:
        self.count = 0
        self._spool = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES)  # noqa: SIM115 (closed by __exit__)
        self._add_row(["line", "reason", *TRAINING_COLUMNS])

    def _add_row(self, row: list[Any]) -> None:
        buf = io.StringIO()
        csv.writer(buf).writerow(row)
        self._spool.write(buf.getvalue().encode())

    def add(self, rejected: Iterable[Rejected]) -> None:
        for r in rejected:
            self._add_row([r.line, r.reason, *(r.values.get(c, "") for c in TRAINING_COLUMNS)])
            self.count += 1

    def write(self, store: BlobStore, name: str, generation: int) -> str:
        target = rejected_rows_name(name, generation)
        self._spool.seek(0)
        store.write_from(target, self._spool, content_type="text/csv")
        return target

    def __enter__(self) -> RejectedRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self._spool.close()


def quarantine_reason(store: BlobStore, name: str, generation: int, reason: str) -> str:
    reason_file = invalid_file_names(name, generation)[1]
    store.write(reason_file, (reason + "\n").encode(), content_type="text/plain")
    return reason_file


def quarantine_file(store: BlobStore, name: str, generation: int, source: BinaryIO, reason: str) -> str:
    """Copy the unreadable object (streamed), then its reason."""
    store.write_from(invalid_file_names(name, generation)[0], source)
    return quarantine_reason(store, name, generation, reason)


def quarantine_corrections(store: BlobStore, after_cursor: str | None, rejected: list[RejectedCorrection]) -> str:
    target = corrections_name(after_cursor)
    store.write(target, corrections_csv(rejected), content_type="text/csv")
    return target
