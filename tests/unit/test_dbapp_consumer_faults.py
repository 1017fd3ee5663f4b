"""dbapp's consumer under faults, with the real `EventSink` and SQLite store behind a switch that takes the
database down, in the real pull loop over an in-memory subscription and a fake clock: a database outage is
retried with growing pauses (no pull while the ping fails) and the event is stored once the database is back;
poison is dead-lettered; both are counted in the consumer's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.pubsub_v1.types import PubsubMessage
from prometheus_client import REGISTRY

from common.events import Event
from common.pull_loop import PullLoop
from common.schema import INPUT_FIELDS
from common.settings import Settings
from dbapp.config import DbappConfig
from dbapp.consumer import EventSink, SubscriptionMetrics
from dbapp.storage.base import PutResult, StorageUnavailable
from dbapp.storage.sqlite import SqliteStore
from tests.unit.pubsub_fakes import FakeClock, FakeDeadLetters, FakeSubscription

SUBSCRIPTION = "dbapp-corrections"
CORRECTIONS = "collection_2"


class SwitchableStore(SqliteStore):
    """SQLite that fails every write and ping while down; it comes back after `pings_until_up` failed pings."""

    def __init__(self, path: Path, pings_until_up: int) -> None:
        super().__init__(path, ("collection_1", CORRECTIONS))
        self.down = False
        self.pings_until_up = pings_until_up
        self.failed_pings = 0

    def put(self, collection: str, event_id: str, data: dict[str, Any]) -> PutResult:
        if self.down:
            raise StorageUnavailable("sqlite: database is locked")
        return super().put(collection, event_id, data)

    def ping(self) -> None:
        if self.down and self.failed_pings < self.pings_until_up:
            self.failed_pings += 1
            raise StorageUnavailable("sqlite: database is locked")
        self.down = False
        super().ping()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def correction() -> Event:
    record = {spec.name: spec.example for spec in INPUT_FIELDS}
    return Event("correction.submitted", {"record": record, "corrected_price": 500_000.0})


@pytest.fixture
def sink_and_store(tmp_path: Path) -> tuple[EventSink, SwitchableStore]:
    store = SwitchableStore(tmp_path / "dbapp.sqlite3", pings_until_up=3)
    settings = Settings.from_env("dbapp", {"GCP_PROJECT": "unit", "DBAPP_SQLITE_PATH": str(store.path)})
    yield EventSink(store, DbappConfig(settings=settings, mongo_settle_seconds=0)), store
    store.close()


def run(subscription: FakeSubscription, sink: EventSink, dead: FakeDeadLetters | None = None) -> FakeClock:
    clock = FakeClock(subscription)
    path = f"projects/unit/subscriptions/{SUBSCRIPTION}"
    metrics = SubscriptionMetrics(SUBSCRIPTION)
    PullLoop(
        subscription, SUBSCRIPTION, path, sink, clock, dead_letters=dead, ready=sink.store.ping, listener=metrics
    ).run()
    return clock


def test_a_database_outage_is_retried_with_growing_pauses_and_the_event_stored_after_it(sink_and_store):
    sink, store = sink_and_store
    retries = sample("dbapp_event_retries_total", subscription=SUBSCRIPTION)
    dead_lettered = sample("dbapp_events_dead_lettered_total", subscription=SUBSCRIPTION, reason="invalid-data")
    event = correction()
    subscription = FakeSubscription(PubsubMessage(data=event.to_json()))
    store.down = True
    dead = FakeDeadLetters()
    clock = run(subscription, sink, dead)
    assert clock.waits == [1, 2, 4, 8]  # after the failed write, then after each of the three failed pings
    assert (
        subscription.pulls == 3 and subscription.attempts["m-1"] == 2
    )  # no pull while the database is down (3: the drain)
    assert store.get(CORRECTIONS, event.event_id) is not None and subscription.acked == ["m-1"]
    assert dead.published == []  # a storage fault is never dead-lettered
    assert sample("dbapp_event_retries_total", subscription=SUBSCRIPTION) - retries == 1
    assert sample("dbapp_events_dead_lettered_total", subscription=SUBSCRIPTION, reason="invalid-data") == dead_lettered


def test_poison_is_dead_lettered_and_counted_once(sink_and_store):
    sink, store = sink_and_store
    labels = {"type": "correction.submitted", "outcome": "invalid"}
    before = {
        "errors": sample("db_errors_total"),
        "invalid": sample("dbapp_events_total", **labels),
        **{
            reason: sample("dbapp_events_dead_lettered_total", subscription=SUBSCRIPTION, reason=reason)
            for reason in ("invalid-envelope", "invalid-data", "unknown-type")
        },
    }
    bad = Event("correction.submitted", {"record": {}, "corrected_price": -1})
    other = Event("model.promoted", {"name": "house-price", "version": 3})
    subscription = FakeSubscription(
        PubsubMessage(data=b"[1, 2"), PubsubMessage(data=bad.to_json()), PubsubMessage(data=other.to_json())
    )
    dead = FakeDeadLetters()
    clock = run(subscription, sink, dead)
    assert [p.reason for _, p in dead.published] == ["invalid-envelope", "invalid-data", "unknown-type"]
    assert subscription.acked == ["m-1", "m-2", "m-3"] and subscription.nacked == [] and clock.waits == []
    assert sample("db_errors_total") - before["errors"] == 3
    assert sample("dbapp_events_total", **labels) - before["invalid"] == 1
    for reason in ("invalid-envelope", "invalid-data", "unknown-type"):
        after = sample("dbapp_events_dead_lettered_total", subscription=SUBSCRIPTION, reason=reason)
        assert after - before[reason] == 1, reason
    assert store.count(CORRECTIONS) == 0
