"""dbapp's Pub/Sub consumer against the real emulator: events are stored once, bad messages are acked and
counted, and the `dbapp-consumer` process shares its SQLite file with gunicorn and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.cloud import pubsub_v1
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

from common.bus import Publisher
from common.events import Event
from common.settings import Settings
from dbapp.config import DbappConfig
from dbapp.consumer import EventSink, ensure_subscriptions, start_consumers
from dbapp.storage.sqlite import SqliteStore
from local_platform.processes import Child
from tests.integration import dbapp_fixtures as fx

pytestmark = pytest.mark.integration

PREDICTIONS, CORRECTIONS = "collection_1", "collection_2"


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels or None) or 0.0


class RunningConsumer:
    def __init__(self, project: str, store: SqliteStore):
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
    store = SqliteStore(sqlite_path, (PREDICTIONS, CORRECTIONS))
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


def test_malformed_messages_are_acked_and_counted_not_retried(consumer: RunningConsumer) -> None:
    errors = counter("db_errors_total")
    invalid = counter("dbapp_events_total", type="correction.submitted", outcome="invalid")
    client = pubsub_v1.PublisherClient()
    client.publish(client.topic_path(consumer.project, "corrections"), b"this is not an event").result(timeout=30)
    bad_data = Event("correction.submitted", fx.correction(corrected=-1.0))
    consumer.publisher.publish(bad_data)
    fx.wait_until(lambda: counter("db_errors_total") - errors >= 2, what="both bad messages to be counted")
    assert counter("dbapp_events_total", type="correction.submitted", outcome="invalid") - invalid == 1
    assert consumer.store.get(CORRECTIONS, bad_data.event_id) is None
    # A nacked message comes back at once; an acked one never does. Give redelivery a chance, then a good
    # event behind them proves the subscription is flowing.
    time.sleep(2)
    good = Event("correction.submitted", fx.correction())
    consumer.publisher.publish(good)
    fx.wait_until(lambda: consumer.store.get(CORRECTIONS, good.event_id), what="the good event behind the bad ones")
    assert counter("db_errors_total") - errors == 2


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
