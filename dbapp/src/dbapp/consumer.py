"""The Pub/Sub consumers: `prediction.made` events into the predictions collection, `correction.submitted`
events into the corrections collection, upserted by the envelope's `event_id`.

`common.bus.pull_forever` acks a message only after `EventSink.handle` returned, i.e. after the write
committed. An event that can never be stored (not an envelope, unexpected type, data that fails validation) is
poison: it is published unchanged to the subscription's dead-letter topic (`<subscription>-dead-letter`, with
attributes naming the reason) and acked only then, and counted in `dbapp_events_dead_lettered_total` and
`db_errors_total`. A database failure is transient: the message is nacked (redelivered by Pub/Sub, counted in
`dbapp_event_retries_total`) and the loop pulls again only after a growing pause (1 s doubling to 60 s) and once
the database answers its ping, so an outage is never dead-lettered (see `common.pull_loop`). Event data is
validated by the same `normalise` as `/store`'s, so it has the same bounds.

Run as `dbapp-consumer`; SIGTERM or SIGINT stops it after the current pull (at most about 5 s).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from prometheus_client import multiprocess

from common import bus
from common.consumer_loop import pull_until_stopped, retry_until_stopped
from common.contracts.dead_letters import DeadLetterReason
from common.dead_letters import Poison
from common.events import DBAPP_SUBSCRIPTIONS, Event
from common.jsonlog import configure_logging
from common.metrics import multiprocess_dir
from common.settings import ConfigError
from common.shutdown import stop_on_signals
from dbapp.config import DbappConfig
from dbapp.documents import DocumentInvalid, Kind, normalise
from dbapp.heartbeat import Heartbeat
from dbapp.metrics import DB_ERRORS, DEAD_LETTERED, DOCUMENTS_INSERTED, EVENT_RETRIES, EVENTS
from dbapp.storage import DocumentStore, open_store

log = logging.getLogger("dbapp.consumer")

EVENT_KINDS = {"prediction.made": Kind.PREDICTION, "correction.submitted": Kind.CORRECTION}


class EventSink:
    """Stores events; the function `pull_forever` calls for each message (tests call `handle` directly)."""

    def __init__(self, store: DocumentStore, config: DbappConfig):
        self.store = store
        self.config = config

    def __call__(self, event: Event) -> None:
        self.handle(event)

    def handle(self, event: Event) -> str:
        """Store one event; return the outcome: stored, duplicate or conflict.

        Raises `Poison` for an event that can never be stored, and `StorageUnavailable` when the database fails
        (a transient fault: the message is redelivered).
        """
        ids = {"event_id": event.event_id, "event_type": event.type}
        kind = EVENT_KINDS.get(event.type)
        if kind is None:
            raise self._reject(event, ids, "unknown-type", f"event type {event.type!r} is not stored by dbapp")
        try:
            data = normalise(kind, event.data)
        except DocumentInvalid as exc:
            raise self._reject(event, {**ids, "fields": exc.fields}, "invalid-data", f"invalid data: {exc}") from None
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

    @staticmethod
    def _reject(event: Event, extra: Mapping[str, object], reason: DeadLetterReason, detail: str) -> Poison:
        log.error(
            "event rejected: it can never be stored, so it goes to the dead-letter topic",
            extra={**extra, "reason": detail, "dead_letter_reason": reason},
        )
        return Poison(reason, detail, event.type)


class SubscriptionMetrics:
    """Counts what the pull loop of one subscription dead-letters and retries (its `PullListener`).

    A poison message is counted once it is on the dead-letter topic, so a failed dead-letter publish (the message
    comes back) does not count it twice."""

    def __init__(self, subscription: str) -> None:
        self.subscription = subscription

    def dead_lettered(self, poison: Poison) -> None:
        DB_ERRORS.inc()
        EVENTS.labels(type=poison.event_type, outcome="invalid").inc()
        DEAD_LETTERED.labels(subscription=self.subscription, reason=poison.reason).inc()

    def retrying(self, messages: int) -> None:
        EVENT_RETRIES.labels(subscription=self.subscription).inc(messages)


def ensure_subscriptions(project: str) -> None:
    """The topics, and each subscription with its dead-letter topic and subscription (`bus.ensure_subscription`)."""
    bus.ensure_topics(project, sorted(set(DBAPP_SUBSCRIPTIONS.values())))
    for subscription, topic in DBAPP_SUBSCRIPTIONS.items():
        bus.ensure_subscription(project, subscription, topic)


def start_consumers(project: str, sink: EventSink, stop: threading.Event) -> list[threading.Thread]:
    """One thread per dbapp subscription, each pulling until `stop` is set (restarted after a failure)."""

    def run(subscription: str) -> None:
        listener = SubscriptionMetrics(subscription)
        pull_until_stopped(
            project, subscription, sink, stop, dead_letter=True, ready=sink.store.ping, listener=listener
        )

    threads = [
        threading.Thread(target=run, args=(name,), name=f"consumer-{name}", daemon=True) for name in DBAPP_SUBSCRIPTIONS
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
    configure_logging("dbapp-consumer")
    stop = stop_on_signals(log)

    store = open_store(settings, mongo_settle_seconds=config.mongo_settle_seconds)
    log.info(
        "consumer starting",
        extra={"backend": store.backend, "project": settings.gcp_project, "subscriptions": sorted(DBAPP_SUBSCRIPTIONS)},
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
        if multiprocess_dir() is not None:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # prometheus_client: unannotated
    log.info("consumer stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
