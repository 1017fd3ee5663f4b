"""Where rejected input goes in the datasets bucket. Names are deterministic, so a rerun of the same input
overwrites its quarantine entry instead of adding a second one.

    quarantine/landing/<object>@<generation>.rejected.csv   bad rows: line, reason, original values
    quarantine/landing/<object>@<generation>.file           a whole unreadable file, byte for byte
    quarantine/landing/<object>@<generation>.reason.txt     why that file could not be read
    quarantine/corrections/after-<hash of cursor>.rejected.csv  bad corrections: event_id, cursor, reason, values
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common.blobstore import BlobStore
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


def quarantine_rows(store: BlobStore, name: str, generation: int, rejected_csv: bytes) -> str:
    target = rejected_rows_name(name, generation)
    store.write(target, rejected_csv, content_type="text/csv")
    return target


def quarantine_file(store: BlobStore, name: str, generation: int, data: bytes, reason: str) -> str:
    copy, reason_file = invalid_file_names(name, generation)
    store.write(copy, data)
    store.write(reason_file, (reason + "\n").encode(), content_type="text/plain")
    return reason_file


def quarantine_corrections(store: BlobStore, after_cursor: str | None, rejected: list[RejectedCorrection]) -> str:
    target = corrections_name(after_cursor)
    store.write(target, corrections_csv(rejected), content_type="text/csv")
    return target
