"""SQLite backend: one file shared by every gunicorn worker, their threads and the consumer process.

WAL mode lets readers run while one writer commits; `busy_timeout` makes concurrent writers wait instead of
failing; `synchronous=FULL` makes an acknowledged write survive a power loss. SQLite serialises writers and
allocates `seq` (INTEGER PRIMARY KEY AUTOINCREMENT) inside the write transaction, so documents become visible
in `seq` order: a cursor never skips a document committed later.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from dbapp.metrics import DB_CONNECTIONS
from dbapp.storage.base import MAX_SEQ, ErrorSum, PutResult, StoredDocument, guard, utcnow

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (collection, event_id)
);
CREATE INDEX IF NOT EXISTS documents_collection_seq ON documents (collection, seq);
"""
_COLUMNS = "seq, event_id, created_at, data"
# dbapp.quality's rule in one aggregate query. `own`: the correction names its model version and predicted price;
# otherwise both come from the prediction it names, found through the (collection, event_id) unique index.
ERROR_SUMS = """
WITH c AS (
    SELECT json_extract(data, '$.corrected_price') AS corrected,
           json_extract(data, '$.predicted_price') AS predicted,
           json_extract(data, '$.model.family') AS family,
           json_extract(data, '$.model.version') AS version,
           json_extract(data, '$.prediction_event_id') AS prediction_id,
           COALESCE(json_type(data, '$.model.version') = 'integer'
                    AND json_type(data, '$.predicted_price') IN ('integer', 'real'), 0) AS own
    FROM documents WHERE collection = :corrections
), pairs AS (
    SELECT c.corrected,
           CASE WHEN c.own THEN c.predicted ELSE json_extract(p.data, '$.result') END AS predicted,
           CASE WHEN c.own THEN c.family ELSE json_extract(p.data, '$.model.family') END AS family,
           CASE WHEN c.own THEN c.version ELSE json_extract(p.data, '$.model.version') END AS version
    FROM c LEFT JOIN documents AS p
      ON NOT c.own AND p.collection = :predictions AND p.event_id = c.prediction_id
)
SELECT CASE WHEN typeof(family) = 'text' THEN family END AS family, version, SUM(ABS(corrected - predicted)), COUNT(*)
FROM pairs
WHERE typeof(version) = 'integer' AND version >= 1
  AND typeof(predicted) IN ('integer', 'real') AND predicted > 0
  AND typeof(corrected) IN ('integer', 'real') AND corrected > 0
GROUP BY 1, 2
"""
_ERRORS = (sqlite3.Error, OSError)


class SqliteStore:
    backend = "sqlite"

    def __init__(self, path: Path | str, collections: Iterable[str], *, busy_timeout_seconds: float = 10.0):
        self.path = Path(path)
        self.collections = frozenset(collections)
        self.busy_timeout_seconds = busy_timeout_seconds
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._schema_ready = False

    # connections -------------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared between threads or processes)."""
        if self._pid != os.getpid():  # forked after use: the parent's connections are not ours to use
            self._local = threading.local()
            self._connections = []
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_seconds, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_seconds * 1000)}")
            mode = self._ensure_wal(conn)
            if mode.lower() != "wal":
                log.warning("SQLite did not switch to WAL mode", extra={"path": str(self.path), "mode": mode})
            conn.execute("PRAGMA synchronous = FULL")
            with self._lock:
                if not self._schema_ready:
                    conn.executescript(SCHEMA)
                    self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._connections.append(conn)
        DB_CONNECTIONS.inc()
        return conn

    def _ensure_wal(self, conn: sqlite3.Connection) -> str:
        """Switch the file to WAL once. WAL is stored in the file, so later connections only read the mode.

        Changing the journal mode needs an exclusive lock and SQLite does not wait on its busy handler for it,
        so when several connections (threads, gunicorn workers, the consumer) open at the same moment the
        switch is retried until `busy_timeout_seconds` instead of failing the first write."""
        mode = cast(str, conn.execute("PRAGMA journal_mode").fetchone()[0])
        deadline = time.monotonic() + self.busy_timeout_seconds
        while mode.lower() != "wal":
            try:
                mode = cast(str, conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            break
        return mode

    def _check(self, collection: str) -> None:
        if collection not in self.collections:
            raise KeyError(f"unknown collection {collection!r}")

    # contract ----------------------------------------------------------------------------------------------

    def put(self, collection: str, event_id: str, data: dict[str, Any]) -> PutResult:
        self._check(collection)
        created_at = utcnow()
        with guard(self.backend, "insert", _ERRORS):
            conn = self._connection()
            rows = conn.execute(
                "INSERT INTO documents (collection, event_id, created_at, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (collection, event_id) DO NOTHING RETURNING seq",
                (collection, event_id, created_at.isoformat(), json.dumps(data, separators=(",", ":"))),
            ).fetchall()
            if rows:
                return PutResult(StoredDocument(event_id, rows[0][0], created_at, data), created=True)
            existing = self._get(conn, collection, event_id)
        if existing is None:  # cannot happen: the conflicting row exists and rows are never deleted
            raise RuntimeError(f"event_id {event_id!r} conflicted but is not stored")
        return PutResult(existing, created=False)

    def get(self, collection: str, event_id: str) -> StoredDocument | None:
        self._check(collection)
        with guard(self.backend, "get", _ERRORS):
            return self._get(self._connection(), collection, event_id)

    def newest(self, collection: str, limit: int, before: int | None = None) -> list[StoredDocument]:
        self._check(collection)
        with guard(self.backend, "query", _ERRORS):
            rows = self._connection().execute(
                f"SELECT {_COLUMNS} FROM documents WHERE collection = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                (collection, MAX_SEQ if before is None else before, limit),
            )
            return [_document(row) for row in rows]

    def oldest_after(self, collection: str, after: int | None, limit: int) -> list[StoredDocument]:
        self._check(collection)
        with guard(self.backend, "query", _ERRORS):
            rows = self._connection().execute(
                f"SELECT {_COLUMNS} FROM documents WHERE collection = ? AND seq > ? ORDER BY seq ASC LIMIT ?",
                (collection, -1 if after is None else after, limit),
            )
            return [_document(row) for row in rows]

    def count(self, collection: str) -> int:
        self._check(collection)
        with guard(self.backend, "count", _ERRORS):
            row = self._connection().execute("SELECT COUNT(*) FROM documents WHERE collection = ?", (collection,))
            return cast(int, row.fetchone()[0])

    def error_sums(self, predictions: str, corrections: str) -> list[ErrorSum]:
        self._check(predictions)
        self._check(corrections)
        with guard(self.backend, "aggregate", _ERRORS):
            rows = self._connection().execute(ERROR_SUMS, {"predictions": predictions, "corrections": corrections})
            return [ErrorSum(family, version, float(total), count) for family, version, total, count in rows]

    def ping(self) -> None:
        with guard(self.backend, "ping", _ERRORS):
            self._connection().execute("SELECT 1 FROM documents LIMIT 1").fetchall()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
            DB_CONNECTIONS.dec()
        self._local = threading.local()

    @staticmethod
    def _get(conn: sqlite3.Connection, collection: str, event_id: str) -> StoredDocument | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE collection = ? AND event_id = ?", (collection, event_id)
        ).fetchone()
        return None if row is None else _document(row)


def _document(row: tuple[int, str, str, str]) -> StoredDocument:
    seq, event_id, created_at, data = row
    return StoredDocument(event_id, seq, datetime.fromisoformat(created_at), json.loads(data))
