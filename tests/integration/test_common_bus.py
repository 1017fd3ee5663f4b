"""Pub/Sub helpers against Google's emulator: idempotent creation, ack only after the handler succeeded."""

import threading
import time

from common import bus
from common.events import Event


def _collect(project: str, subscription: str, handler, until, timeout: float = 30.0) -> None:
    stop = threading.Event()
    worker = threading.Thread(target=bus.pull_forever, args=(project, subscription, handler, stop), daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    worker.join(timeout=15)


def test_publish_and_pull_with_redelivery_after_a_failed_handler(gcp_project: str):
    bus.ensure_topics(gcp_project, ["corrections"])
    bus.ensure_topics(gcp_project, ["corrections"])  # idempotent
    bus.ensure_subscription(gcp_project, "sub", "corrections", ack_deadline_seconds=10)
    bus.ensure_subscription(gcp_project, "sub", "corrections", ack_deadline_seconds=10)
    event = Event(type="correction.submitted", data={"corrected_price": 123.0})
    bus.Publisher(gcp_project).publish(event)

    attempts: list[str] = []

    def flaky(received: Event) -> None:
        attempts.append(received.event_id)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    _collect(gcp_project, "sub", flaky, until=lambda: len(attempts) >= 2)
    assert attempts == [event.event_id, event.event_id]

    # Acked after the second, successful attempt: nothing more arrives.
    late: list[str] = []
    _collect(gcp_project, "sub", lambda e: late.append(e.event_id), until=lambda: False, timeout=3)
    assert late == []


def test_invalid_messages_are_reported_once_and_acked(gcp_project: str):
    from google.cloud import pubsub_v1

    bus.ensure_topics(gcp_project, ["predictions"])
    bus.ensure_subscription(gcp_project, "sub", "predictions", ack_deadline_seconds=10)
    client = pubsub_v1.PublisherClient()
    client.publish(client.topic_path(gcp_project, "predictions"), b"not an envelope").result(timeout=10)

    def pull(seen: list[str], until, timeout: float) -> None:
        stop = threading.Event()
        worker = threading.Thread(
            target=bus.pull_forever,
            args=(gcp_project, "sub", lambda e: None, stop),
            kwargs={"on_invalid": lambda data, exc: seen.append(str(exc))},
            daemon=True,
        )
        worker.start()
        deadline = time.monotonic() + timeout
        while not until() and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        worker.join(timeout=15)

    first: list[str] = []
    pull(first, until=lambda: bool(first), timeout=30)
    assert len(first) == 1 and first[0].startswith("not JSON")
    again: list[str] = []
    pull(again, until=lambda: False, timeout=3)
    assert again == []  # acked: a message that can never succeed is not retried forever
