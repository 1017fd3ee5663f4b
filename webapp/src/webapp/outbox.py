"""The prediction form's events, kept on local disk until the bus has them, so the page never waits for Pub/Sub.

`put` commits the event to a SQLite file (WAL, `synchronous=FULL`: on disk when `put` returns, ~0.3 ms here)
and wakes the relay; the page answers at once. The relay, a thread in each gunicorn worker, publishes pending
events oldest first and deletes each only after the bus acknowledged it; when the bus refuses or times out it
keeps them and tries again with back-off. Several workers share the file: a relay claims a few rows for
`CLAIM_SECONDS` before publishing them, and an event published twice (a relay that died after publishing, before
deleting) is the same event id, which dbapp stores once.

What it survives: a crashed or killed worker or container (the next relay on the same file publishes what is
left; rows a dead process had claimed are freed when a new one opens the file), a bus that is down for a
while. On SIGTERM the relay drains what it can for `DRAIN_SECONDS`. On Kubernetes the file lives on the pod's
emptyDir, so only the loss of the pod itself while events wait (the bus unreachable, or the pod deleted within
the ~10 ms an event waits) can lose them; the JSON API publishes synchronously instead and answers only once
the bus has the event.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from common.backoff import Backoff
from common.events import Event
from webapp.publishing import EventBus

log = logging.getLogger(__name__)

CLAIM_SECONDS = 30.0  # a claimed row is left to its relay this long; then any relay may take it
BATCH = 50
DRAIN_SECONDS = 5.0
IDLE_WAKE_SECONDS = 5.0  # rows a dead worker claimed are found again without a new put
OPEN_SECONDS = 10.0


def _open(path: Path) -> sqlite3.Connection:
    """The outbox file in WAL mode with its table. Every gunicorn worker opens it at boot, at the same moment on a
    fresh pod: switching a new file to WAL takes an exclusive lock for which SQLite may answer "database is
    locked" at once instead of waiting its busy timeout, and a worker that fails to boot stops gunicorn. So the
    set-up is retried for up to OPEN_SECONDS."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    deadline = time.monotonic() + OPEN_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (event_id TEXT PRIMARY KEY, body TEXT NOT NULL, "
                "created REAL NOT NULL, claimed_until REAL NOT NULL DEFAULT 0, claimer TEXT NOT NULL DEFAULT '')"
            )
            return db
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(0.05)


class Outbox:
    def __init__(self, path: Path, bus: EventBus, publish_timeout: float):
        self.path, self.bus, self.publish_timeout = path, bus, publish_timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _open(path)
        self._lock = threading.Lock()  # one sqlite3 connection, used by request threads and the relay
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._me = f"{os.getpid()}-{id(self)}"
        self._release_dead_claims()

    def _release_dead_claims(self) -> None:
        """Rows claimed by a process that no longer runs (a worker killed while it published) are free again at
        once, not after CLAIM_SECONDS. A process id reused since only delays them until the claim expires."""
        with self._lock:
            claimers = [c for (c,) in self._db.execute("SELECT DISTINCT claimer FROM outbox WHERE claimer != ''")]
            for claimer in claimers:
                if not _alive(int(claimer.split("-", 1)[0])):
                    self._db.execute("UPDATE outbox SET claimed_until = 0, claimer = '' WHERE claimer = ?", (claimer,))

    def put(self, event: Event) -> None:
        """Durable when it returns; the same event id twice is stored once."""
        body = event.to_json().decode()
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, body, created) VALUES (?, ?, ?)",
                (event.event_id, body, time.time()),
            )
        self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def _claim(self) -> list[tuple[str, str]]:
        now = time.time()
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET claimed_until = ?, claimer = ? WHERE event_id IN "
                "(SELECT event_id FROM outbox WHERE claimed_until < ? ORDER BY created LIMIT ?)",
                (now + CLAIM_SECONDS, self._me, now, BATCH),
            )
            rows = self._db.execute(
                "SELECT event_id, body FROM outbox WHERE claimer = ? AND claimed_until > ? ORDER BY created",
                (self._me, now),
            ).fetchall()
        return [(str(event_id), str(body)) for event_id, body in rows]

    def relay_once(self) -> int:
        """Publish what this relay could claim; returns how many the bus acknowledged. Raises the bus's error
        after releasing the rows it could not publish."""
        published = 0
        for event_id, body in self._claim():
            event = Event.from_json(body)  # the envelope as put: same id, same occurred_at
            try:
                self.bus.publish(event, timeout=self.publish_timeout)
            except Exception:
                with self._lock:
                    self._db.execute("UPDATE outbox SET claimed_until = 0 WHERE claimer = ?", (self._me,))
                raise
            with self._lock:
                self._db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))
            published += 1
        return published

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=30.0)
        while not self._stop.is_set():
            self._wake.wait(IDLE_WAKE_SECONDS)
            self._wake.clear()
            try:
                while self.relay_once():
                    pass
                backoff.reset()
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning(
                    "the bus did not take the waiting events; they stay on disk",
                    extra={"reason": repr(exc)[:300], "retry_in_seconds": round(delay, 1), "outbox": str(self.path)},
                )
                self._stop.wait(delay)

    def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Stop the relay after publishing what it can within `drain_seconds`; what is left stays on disk."""
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline:
            try:
                if not self.relay_once():
                    break
            except Exception:
                break
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed worker whose parent died too stays a zombie until an init process reaps it, which some container
    and sandbox inits never do: it answers signal 0 like a live process, and its claims waited out CLAIM_SECONDS."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # not Linux, or gone meanwhile
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"  # the state follows the command name, which may hold ")"
