"""The storage contract both backends fulfil, and the document and cursor types the routes work with.

A document is `(event_id, seq, created_at, data)`. `event_id` is unique per collection: writing an event_id
that exists returns the stored document unchanged (insert-if-absent), so a redelivered event never duplicates.
`seq` increases with every insert and is the pagination cursor; clients see it as an opaque string.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from dbapp.metrics import DB_ERRORS, DB_HEALTH

log = logging.getLogger(__name__)

MAX_SEQ = 2**63 - 1


class StorageUnavailable(RuntimeError):
    """The database could not be reached or refused an operation; the message says which and why."""


@dataclass(frozen=True)
class StoredDocument:
    event_id: str
    seq: int
    created_at: datetime
    data: dict[str, Any]

    @property
    def cursor(self) -> str:
        return encode_cursor(self.seq)

    def to_item(self) -> dict[str, Any]:
        """The document as `/retrieve` and `/store` show it: its data plus cursor, event_id and created_at."""
        return {**self.data, "event_id": self.event_id, "cursor": self.cursor, "created_at": iso(self.created_at)}


@dataclass(frozen=True)
class ErrorSum:
    """The absolute errors of one (family, version) added up by the database: their sum and how many."""

    family: str | None
    version: int
    total: float  # sum of |corrected_price - predicted_price| in USD
    count: int


@dataclass(frozen=True)
class PutResult:
    document: StoredDocument
    created: bool  # False: a document with this event_id already existed and is returned unchanged


class DocumentStore(Protocol):
    backend: str

    def put(self, collection: str, event_id: str, data: dict[str, Any]) -> PutResult:
        """Insert the document unless `event_id` exists in `collection`; either way return the stored one."""

    def get(self, collection: str, event_id: str) -> StoredDocument | None: ...

    def newest(self, collection: str, limit: int, before: int | None = None) -> list[StoredDocument]:
        """Up to `limit` documents with `seq < before` (all when None), newest first."""

    def oldest_after(self, collection: str, after: int | None, limit: int) -> list[StoredDocument]:
        """Up to `limit` documents with `seq > after` (all when None), oldest first, that will never be preceded
        by a document committed later: once returned, the same `after` always yields the same next items."""

    def count(self, collection: str) -> int: ...

    def error_sums(self, predictions: str, corrections: str) -> list[ErrorSum]:
        """Per (family, version), |corrected - predicted| summed over `corrections` by one aggregate query (see
        `dbapp.quality` for which corrections count). A correction that lacks its model or predicted price takes
        both from the prediction its `prediction_event_id` names in `predictions` (a lookup by unique index)."""

    def ping(self) -> None:
        """Raise `StorageUnavailable` unless the database answers and its schema/indexes are in place."""

    def close(self) -> None: ...


def encode_cursor(seq: int) -> str:
    return str(seq)


def decode_cursor(raw: str) -> int:
    """The sequence behind a cursor string; `ValueError` with a readable message when it is not one of ours."""
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_SEQ:
        raise ValueError(f"is not a valid cursor (got {raw[:40]!r}); use a next_cursor value from a previous page")
    return int(raw)


def utcnow() -> datetime:
    """Now in UTC, truncated to milliseconds: the precision both backends keep, so a document read back equals
    the one written."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@contextlib.contextmanager
def guard(backend: str, operation: str, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Turn a backend's own exceptions into `StorageUnavailable`, counting them and tracking health."""
    try:
        yield
    except errors as exc:
        DB_ERRORS.inc()
        DB_HEALTH.set(0)
        log.error("database operation failed", extra={"backend": backend, "operation": operation, "reason": str(exc)})
        raise StorageUnavailable(f"{backend} {operation} failed: {exc}") from exc
    DB_HEALTH.set(1)
