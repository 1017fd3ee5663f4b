"""The Pub/Sub consumers: `prediction.made` events into the predictions collection, `correction.submitted`
events into the corrections collection, upserted by the envelope's `event_id`.

`common.bus.pull_forever` acks a message only after `EventSink.handle` returned, i.e. after the write
committed; a database failure raises, so the message is redelivered. An event that can never be stored (not
an envelope, unexpected type, data that fails validation) is logged with its reason, counted in
`db_errors_total`, and acked: retrying it forever would only block the subscription. Event data is validated
by the same `normalise` as `/store`'s, so it has the same bounds (bounded fields, the document size limit).

Run as `dbapp-consumer`; SIGTERM or SIGINT stops it after the current pull (at most about 5 s).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from prometheus_client import multiprocess

from common import bus
from common.events import SUBSCRIPTIONS, Event, EventInvalid
from common.jsonlog import configure_logging
from common.settings import ConfigError
from dbapp.config import DbappConfig
from dbapp.documents import DocumentInvalid, Kind, normalise
from dbapp.heartbeat import Heartbeat
from dbapp.metrics import DB_ERRORS, DOCUMENTS_INSERTED, EVENTS
from dbapp.storage import DocumentStore, open_store

log = logging.getLogger("dbapp.consumer")

EVENT_KINDS = {"prediction.made": Kind.PREDICTION, "correction.submitted": Kind.CORRECTION}
RETRY_SECONDS = 2.0


class EventSink:
    """Stores events; the function `pull_forever` calls for each message (tests call `handle` directly)."""

    def __init__(self, store: DocumentStore, config: DbappConfig):
        self.store = store
        self.config = config

    def __call__(self, event: Event) -> None:
        self.handle(event)

    def handle(self, event: Event) -> str:
        """Store one event; return the outcome: stored, duplicate, conflict or invalid.

        Raises `StorageUnavailable` when the database fails, so the message is redelivered.
        """
        ids = {"event_id": event.event_id, "event_type": event.type}
        kind = EVENT_KINDS.get(event.type)
        if kind is None:
            return self._reject(event.type, ids, f"event type {event.type!r} is not stored by dbapp")
        try:
            data = normalise(kind, event.data)
        except DocumentInvalid as exc:
            return self._reject(event.type, {**ids, "fields": exc.fields}, f"invalid data: {exc}")
        result = self.store.put(self.config.collection_for(kind), event.event_id, data)
        if result.created:
            DOCUMENTS_INSERTED.inc()
            outcome = "stored"
            log.info("event stored", extra={**ids, "cursor": result.document.cursor})
        elif result.document.data == data:
            outcome = "duplicate"
            log.info("event already stored (redelivery)", extra=ids)
        else:
            outcome = "conflict"
            log.warning("event_id already stored with different data; the first write is kept", extra=ids)
        EVENTS.labels(type=event.type, outcome=outcome).inc()
        return outcome

    def on_invalid(self, payload: bytes, exc: EventInvalid) -> None:
        """A message that is not a valid envelope (acked by `pull_forever` after this)."""
        self._reject("unknown", {"payload": payload[:200].decode(errors="replace")}, f"not a valid event: {exc}")

    @staticmethod
    def _reject(event_type: str, extra: dict, reason: str) -> str:
        DB_ERRORS.inc()
        EVENTS.labels(type=event_type, outcome="invalid").inc()
        log.error("event rejected and acked: it can never be stored", extra={**extra, "reason": reason})
        return "invalid"


def retry_until_stopped(what: str, action: Callable[[], None], stop: threading.Event) -> bool:
    """Run `action` until it succeeds or `stop` is set (the bus may start after us); True if it succeeded."""
    while not stop.is_set():
        try:
            action()
            return True
        except Exception as exc:
            log.warning(f"{what} failed; retrying in {RETRY_SECONDS:g} s", extra={"reason": str(exc)})
            stop.wait(RETRY_SECONDS)
    return False


def ensure_subscriptions(project: str) -> None:
    bus.ensure_topics(project, sorted(set(SUBSCRIPTIONS.values())))
    for subscription, topic in SUBSCRIPTIONS.items():
        bus.ensure_subscription(project, subscription, topic)


def start_consumers(project: str, sink: EventSink, stop: threading.Event) -> list[threading.Thread]:
    """One thread per dbapp subscription, each pulling until `stop` is set (restarted after a failure)."""

    def run(subscription: str) -> None:
        while not stop.is_set():
            try:
                bus.pull_forever(project, subscription, sink, stop, on_invalid=sink.on_invalid)
            except Exception:
                log.exception("pull loop failed; restarting", extra={"subscription": subscription})
                stop.wait(RETRY_SECONDS)

    threads = [
        threading.Thread(target=run, args=(name,), name=f"consumer-{name}", daemon=True) for name in SUBSCRIPTIONS
    ]
    for thread in threads:
        thread.start()
    return threads


def main() -> int:
    try:
        config = DbappConfig.from_env()
    except ConfigError as exc:
        configure_logging("dbapp-consumer").error("configuration error: %s", exc)
        return 2
    settings = config.settings
    configure_logging("dbapp-consumer", settings.log_level)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    store = open_store(settings, mongo_settle_seconds=config.mongo_settle_seconds)
    log.info(
        "consumer starting",
        extra={"backend": store.backend, "project": settings.gcp_project, "subscriptions": sorted(SUBSCRIPTIONS)},
    )
    threads: list[threading.Thread] = []
    try:
        ready = retry_until_stopped(
            "creating topics and subscriptions", lambda: ensure_subscriptions(settings.gcp_project), stop
        )
        if ready:
            threads = start_consumers(settings.gcp_project, EventSink(store, config), stop)
            log.info("consumer running")
        heartbeat = Heartbeat(config.consumer_state_dir)
        while not stop.wait(1.0):
            heartbeat.beat_if_alive(threads)
        for thread in threads:
            thread.join(timeout=15)
    finally:
        store.close()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.mark_process_dead(os.getpid())
    log.info("consumer stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
