"""dbapp's Pub/Sub consumer against the real emulator: events are stored once, poison messages go to the dead-letter
subscriptions with their reason and are counted, a database outage is retried with growing pauses until the event
is stored, `dbapp-dead-letters` lists and replays dead letters, and the `dbapp-consumer` process shares its SQLite
file with gunicorn and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import pubsub_v1
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

from common.bus import Publisher
from common.events import Event, dead_letter_name
from common.settings import Settings
from dbapp.config import DbappConfig
from dbapp.consumer import EventSink, ensure_subscriptions, start_consumers
from dbapp.dead_letters import list_dead_letters
from dbapp.storage.base import PutResult, StorageUnavailable
from dbapp.storage.sqlite import SqliteStore
from local_platform.processes import Child
from tests.integration import dbapp_fixtures as fx

pytestmark = pytest.mark.integration

PREDICTIONS, CORRECTIONS = "collection_1", "collection_2"


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels or None) or 0.0


class SwitchableStore(SqliteStore):
    """SQLite that fails every write and ping while `down`; it comes back after `pings_until_up` failed pings,
    whose times are recorded."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, (PREDICTIONS, CORRECTIONS))
        self.down = False
        self.pings_until_up = 0
        self.failed_pings: list[float] = []

    def put(self, collection: str, event_id: str, data: dict[str, Any]) -> PutResult:
        if self.down:
            raise StorageUnavailable("sqlite: disk I/O error")
        return super().put(collection, event_id, data)

    def ping(self) -> None:
        if self.down and len(self.failed_pings) < self.pings_until_up:
            self.failed_pings.append(time.monotonic())
            raise StorageUnavailable("sqlite: disk I/O error")
        self.down = False
        super().ping()


class RunningConsumer:
    def __init__(self, project: str, store: SwitchableStore):
        self.project = project
        self.store = store
        self.publisher = Publisher(project)


@pytest.fixture(scope="module")
def consumer(pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningConsumer]:
    """The consumer threads of `dbapp-consumer`, in this process, on their own project and SQLite file."""
    project = f"dbapp-{uuid.uuid4().hex[:10]}"
    sqlite_path = tmp_path_factory.mktemp("consumer") / "dbapp.sqlite3"
    settings = Settings.from_env("dbapp", {"GCP_PROJECT": project, "DBAPP_SQLITE_PATH": str(sqlite_path)})
    config = DbappConfig(settings=settings, mongo_settle_seconds=0)
    store = SwitchableStore(sqlite_path)
    ensure_subscriptions(project)
    stop = threading.Event()
    threads = start_consumers(project, EventSink(store, config), stop)
    yield RunningConsumer(project, store)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    assert not any(thread.is_alive() for thread in threads), "consumer threads did not stop"
    store.close()


def test_prediction_and_correction_events_are_stored(consumer: RunningConsumer) -> None:
    prediction = Event("prediction.made", fx.prediction(result=512_000.0))
    correction = Event(
        "correction.submitted", fx.correction(corrected=530_000.0, prediction_event_id=prediction.event_id)
    )
    consumer.publisher.publish(prediction)
    consumer.publisher.publish(correction)
    stored_prediction = fx.wait_until(
        lambda: consumer.store.get(PREDICTIONS, prediction.event_id), what="the prediction event to be stored"
    )
    stored_correction = fx.wait_until(
        lambda: consumer.store.get(CORRECTIONS, correction.event_id), what="the correction event to be stored"
    )
    assert stored_prediction.data["result"] == 512_000.0
    assert stored_prediction.data["record"] == fx.record()
    assert stored_correction.data["corrected_price"] == 530_000.0
    assert stored_correction.data["prediction_event_id"] == prediction.event_id
    assert consumer.store.get(CORRECTIONS, prediction.event_id) is None  # each type goes to its own collection


def test_the_same_event_published_twice_is_one_document(consumer: RunningConsumer) -> None:
    before = consumer.store.count(PREDICTIONS)
    duplicates = counter("dbapp_events_total", type="prediction.made", outcome="duplicate")
    event = Event("prediction.made", fx.prediction(result=600_000.0))
    consumer.publisher.publish(event)
    consumer.publisher.publish(event)
    fx.wait_until(
        lambda: counter("dbapp_events_total", type="prediction.made", outcome="duplicate") > duplicates,
        what="the second delivery to be handled",
    )
    assert consumer.store.count(PREDICTIONS) == before + 1
    assert consumer.store.get(PREDICTIONS, event.event_id).data["result"] == 600_000.0


def dead_lettered(reason: str, subscription: str = "dbapp-corrections") -> float:
    return counter("dbapp_events_dead_lettered_total", subscription=subscription, reason=reason)


def test_poison_messages_are_dead_lettered_with_their_reason_counted_and_not_retried(
    consumer: RunningConsumer,
) -> None:
    errors = counter("db_errors_total")
    invalid = counter("dbapp_events_total", type="correction.submitted", outcome="invalid")
    before = {reason: dead_lettered(reason) for reason in ("invalid-envelope", "invalid-data", "unknown-type")}
    client = pubsub_v1.PublisherClient()
    topic = client.topic_path(consumer.project, "corrections")
    not_an_event_id = client.publish(topic, b"this is not an event", origin="test").result(timeout=30)
    bad_data = Event("correction.submitted", fx.correction(corrected=-1.0))
    consumer.publisher.publish(bad_data)
    wrong_type = Event("model.promoted", {"name": "house-price", "version": 3, "family": "ridge"})
    client.publish(topic, wrong_type.to_json()).result(timeout=30)  # a producer sent it to the wrong topic
    fx.wait_until(lambda: counter("db_errors_total") - errors >= 3, what="the three bad messages to be counted")
    assert counter("dbapp_events_total", type="correction.submitted", outcome="invalid") - invalid == 1
    assert {reason: dead_lettered(reason) - count for reason, count in before.items()} == {
        "invalid-envelope": 1,
        "invalid-data": 1,
        "unknown-type": 1,
    }
    assert consumer.store.get(CORRECTIONS, bad_data.event_id) is None

    letters = {letter.reason: letter for letter in list_dead_letters(consumer.project, "dbapp-corrections", 10)}
    assert set(letters) == {"invalid-envelope", "invalid-data", "unknown-type"}
    envelope = letters["invalid-envelope"]
    assert (envelope.data, envelope.attributes) == ("this is not an event", {"origin": "test"})
    assert envelope.source_message_id == not_an_event_id and envelope.source_subscription == "dbapp-corrections"
    assert "corrected_price" in letters["invalid-data"].detail
    assert json.loads(letters["unknown-type"].data)["event_id"] == wrong_type.event_id
    # Listing leaves them there.
    assert len(list_dead_letters(consumer.project, "dbapp-corrections", 10)) == 3

    # An acked message never comes back: a good event behind the bad ones is stored, nothing is counted twice.
    time.sleep(2)
    good = Event("correction.submitted", fx.correction())
    consumer.publisher.publish(good)
    fx.wait_until(lambda: consumer.store.get(CORRECTIONS, good.event_id), what="the good event behind the bad ones")
    assert counter("db_errors_total") - errors == 3


def test_a_database_outage_is_retried_with_growing_pauses_until_the_event_is_stored(
    consumer: RunningConsumer,
) -> None:
    retries = counter("dbapp_event_retries_total", subscription="dbapp-corrections")
    store = consumer.store
    store.failed_pings, store.pings_until_up, store.down = [], 2, True
    event = Event("correction.submitted", fx.correction(corrected=610_000.0))
    consumer.publisher.publish(event)
    stored = fx.wait_until(
        lambda: store.get(CORRECTIONS, event.event_id), timeout=60, what="the event to be stored after the outage"
    )
    assert stored.data["corrected_price"] == 610_000.0
    assert counter("dbapp_event_retries_total", subscription="dbapp-corrections") - retries == 1
    # The loop waited 1 s after the failed write, then 2 s after the first failed ping (and 4 s after the second).
    assert len(store.failed_pings) == 2 and store.failed_pings[1] - store.failed_pings[0] >= 1.9
    letters = list_dead_letters(consumer.project, "dbapp-corrections", 10)
    assert not any(event.event_id in letter.data for letter in letters)  # a storage fault is never dead-lettered


def test_the_dead_letters_tool_lists_and_replays(consumer: RunningConsumer) -> None:
    """A good event Pub/Sub dead-lettered after too many attempts (say, during a bug) is replayed once fixed."""
    client = pubsub_v1.PublisherClient()
    event = Event("prediction.made", fx.prediction(result=720_000.0))
    pubsub_attributes = {
        "CloudPubSubDeadLetterSourceSubscription": "dbapp-predictions",
        "CloudPubSubDeadLetterSourceDeliveryCount": "10",
    }
    dead_topic = client.topic_path(consumer.project, dead_letter_name("dbapp-predictions"))
    client.publish(dead_topic, event.to_json(), origin="webapp", **pubsub_attributes).result(timeout=30)
    env = {**os.environ, "GCP_PROJECT": consumer.project}
    tool = [sys.executable, "-m", "dbapp.dead_letters"]
    listed = subprocess.run(
        [*tool, "list", "--subscription", "dbapp-predictions"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    (line,) = [json.loads(text) for text in listed.stdout.splitlines()]
    assert (line["reason"], line["delivery_attempts"], line["attributes"]) == (
        "too-many-attempts",
        10,
        {"origin": "webapp"},
    )
    assert consumer.store.get(PREDICTIONS, event.event_id) is None
    replayed = subprocess.run(
        [*tool, "replay", "--subscription", "dbapp-predictions"], env=env, capture_output=True, text=True, timeout=120
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 dead letters of dbapp-predictions" in replayed.stderr
    fx.wait_until(lambda: consumer.store.get(PREDICTIONS, event.event_id), what="the replayed event to be stored")
    assert list_dead_letters(consumer.project, "dbapp-predictions", 10) == []


def multiprocess_sample(directory: Path, name: str) -> float:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return registry.get_sample_value(name) or 0.0


def test_consumer_process_shares_the_database_with_gunicorn_and_stops_on_sigterm(
    pubsub_emulator: str, gcp_project: str, tmp_path: Path, logs_dir: Path
) -> None:
    prom = tmp_path / "prom"
    env = fx.dbapp_env(tmp_path / "dbapp.sqlite3", prom, GCP_PROJECT=gcp_project, PUBSUB_EMULATOR_HOST=pubsub_emulator)
    env["CONSUMER_STATE_DIR"] = str(tmp_path / "state")
    heartbeat = tmp_path / "state" / "heartbeat"
    log_path = logs_dir / f"dbapp-consumer-{gcp_project}.log"
    consumer = Child("dbapp-consumer", [fx.console_script("dbapp-consumer")], env=env, log_path=log_path)
    consumer.start()
    try:
        consumer.wait_ready(lambda: "consumer running" in consumer.tail(), timeout=30)
        fx.wait_until(lambda: heartbeat.exists(), what="the consumer's heartbeat file (its probes read it)")
        first_beat = heartbeat.stat().st_mtime_ns
        fx.wait_until(lambda: heartbeat.stat().st_mtime_ns > first_beat, what="a second heartbeat")
        publisher = Publisher(gcp_project)
        correction = Event("correction.submitted", fx.correction(corrected=777_000.0))
        publisher.publish(correction)
        publisher.publish(Event("prediction.made", {"record": fx.record(), "result": "a lot"}))  # invalid data
        with fx.dbapp_server(env, logs_dir / f"dbapp-with-consumer-{gcp_project}.log") as (_child, url):
            feed = fx.wait_until(
                lambda: requests.get(f"{url}/corrections", timeout=5).json()["items"],
                what="the consumer's write to show in gunicorn's /corrections",
            )
            assert [(item["event_id"], item["corrected_price"]) for item in feed] == [(correction.event_id, 777_000.0)]
            fx.wait_until(lambda: multiprocess_sample(prom, "db_errors_total") >= 1, what="the invalid event count")
            metrics = requests.get(f"{url}/metrics", timeout=5).text
            assert "\ndb_errors_total 1.0" in metrics  # the consumer's counters are part of dbapp's /metrics
            assert "\ndocuments_inserted_total 1.0" in metrics
        started = time.monotonic()
        consumer.process.send_signal(signal.SIGTERM)
        assert consumer.wait(timeout=20) == 0
        assert time.monotonic() - started < 15
    finally:
        consumer.stop()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert "consumer stopped" in messages
    rejected = [line for line in lines if line["message"].startswith("event rejected")]
    assert len(rejected) == 1 and "result" in rejected[0]["reason"] and rejected[0]["event_id"]
