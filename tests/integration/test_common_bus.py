"""Pub/Sub helpers against Google's emulator: idempotent creation, ack only after the handler succeeded, poison
moved to the dead-letter topic with its reason, subscriptions made as the pubsub-setup Job and Terraform make them.

The emulator honours dead-letter and retry policies (it moves a message after `max_delivery_attempts` deliveries,
and spaces redeliveries by the retry policy, the first excepted); the tests below rely on that.
"""

import importlib.util
import threading
import time

from google.api_core import exceptions as errors
from google.cloud import pubsub_v1

from common import bus
from common.contracts.dead_letters import DeadLetterAttributes
from common.events import ALL_TOPICS, SUBSCRIPTIONS, Event, dead_letter_name
from common.subscription_policy import DeliveryPolicy
from tests import terraform_support as tf

SETUP_DIR = tf.REPO / "k8s_ml" / "base" / "pubsub"
_spec = importlib.util.spec_from_file_location("pubsub_setup", SETUP_DIR / "pubsub_setup.py")
setup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup)

# Short waits so that the tests do not take minutes (Pub/Sub's minimum number of attempts is 5).
QUICK = DeliveryPolicy(
    ack_deadline_seconds=10, max_delivery_attempts=5, minimum_backoff_seconds=1, maximum_backoff_seconds=2
)


def _collect(project: str, subscription: str, handler, until, timeout: float = 30.0, **options) -> None:
    stop = threading.Event()
    worker = threading.Thread(
        target=bus.pull_forever, args=(project, subscription, handler, stop), kwargs=options, daemon=True
    )
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


def _pull_dead_letters(project: str, subscription: str, timeout: float = 30.0) -> list:
    """Everything on `subscription`'s dead-letter subscription (acked: taken away)."""
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, dead_letter_name(subscription))
    deadline, received = time.monotonic() + timeout, []
    try:
        while not received and time.monotonic() < deadline:
            with_messages = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=10)
            received = list(with_messages.received_messages)
        if received:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": [r.ack_id for r in received]})
    finally:
        subscriber.close()
    return received


def _pull_dead_letters_while(project: str, subscription: str, handled: list[str]) -> list:
    """Run the consumer's loop (with dead-lettering) until its dead-letter subscription holds something."""
    stop = threading.Event()
    worker = threading.Thread(
        target=bus.pull_forever,
        args=(project, subscription, lambda e: handled.append(e.event_id), stop),
        kwargs={"dead_letter": True},
        daemon=True,
    )
    worker.start()
    try:
        return _pull_dead_letters(project, subscription)
    finally:
        stop.set()
        worker.join(timeout=15)


def test_poison_goes_to_the_dead_letter_subscription_with_its_reason_and_is_not_redelivered(gcp_project: str):
    bus.ensure_topics(gcp_project, ["predictions"])
    bus.ensure_subscription(gcp_project, "sub-poison", "predictions", policy=QUICK)
    client = pubsub_v1.PublisherClient()
    topic = client.topic_path(gcp_project, "predictions")
    message_id = client.publish(topic, b"not an envelope", origin="test").result(timeout=10)

    handled: list[str] = []
    dead = _pull_dead_letters_while(gcp_project, "sub-poison", handled)
    assert handled == []
    (letter,) = dead
    assert letter.message.data == b"not an envelope"
    attributes = dict(letter.message.attributes)
    assert attributes.pop("origin") == "test"
    added = DeadLetterAttributes.model_validate(attributes)
    assert added.dead_letter_reason == "invalid-envelope" and added.dead_letter_detail.startswith("not JSON")
    assert (added.dead_letter_source_subscription, added.dead_letter_source_message_id) == ("sub-poison", message_id)

    # Acked once it was on the dead-letter topic: it never comes back to the consumer.
    late: list[str] = []
    _collect(gcp_project, "sub-poison", lambda e: late.append(e.event_id), until=lambda: False, timeout=3)
    assert late == [] and _pull_dead_letters(gcp_project, "sub-poison", timeout=3) == []


def test_a_message_that_keeps_failing_is_dead_lettered_by_pubsub_after_its_attempts(gcp_project: str):
    """What catches a message that fails for an unforeseen reason (a handler bug, not recognised as poison): the
    subscription's dead-letter policy, which `ensure_subscription` sets and the emulator honours as Google Cloud
    does. (It moves the message when it would deliver it once more, so this keeps pulling and nacking.)"""
    bus.ensure_topics(gcp_project, ["corrections"])
    path = bus.ensure_subscription(gcp_project, "sub-buggy", "corrections", policy=QUICK)
    bus.Publisher(gcp_project).publish(Event("correction.submitted", {"corrected_price": 1.0}))
    subscriber = pubsub_v1.SubscriberClient()
    attempts: list[int] = []
    deadline = time.monotonic() + 60
    try:
        while len(attempts) <= QUICK.max_delivery_attempts and time.monotonic() < deadline:
            received = subscriber.pull(request={"subscription": path, "max_messages": 1}, timeout=5).received_messages
            if received:
                attempts.append(received[0].delivery_attempt)
                request = {"subscription": path, "ack_ids": [received[0].ack_id], "ack_deadline_seconds": 0}
                subscriber.modify_ack_deadline(request=request)
            elif len(attempts) == QUICK.max_delivery_attempts:
                break
    finally:
        subscriber.close()
    assert attempts == [1, 2, 3, 4, 5]
    (letter,) = _pull_dead_letters(gcp_project, "sub-buggy")
    assert letter.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(QUICK.max_delivery_attempts)


def test_ensure_subscription_makes_what_the_pubsub_setup_job_and_terraform_state(gcp_project: str):
    """Locally (`make up`, dbapp's consumer) the subscriptions, their dead-letter topics and subscriptions are made
    by `bus.ensure_subscription`; the Job's own check then finds nothing to create and no difference."""
    bus.ensure_topics(gcp_project, ALL_TOPICS)
    for subscription, topic in SUBSCRIPTIONS.items():
        bus.ensure_subscription(gcp_project, subscription, topic)
        bus.ensure_subscription(gcp_project, subscription, topic)  # idempotent
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    created: list[str] = []
    publisher.create_topic = subscriber.create_subscription = lambda **kw: created.append(str(kw))
    spec = setup.load_spec(SETUP_DIR / "subscriptions.json")
    try:
        assert setup.reconcile(gcp_project, spec, publisher, subscriber, pubsub_v1.types, errors) == 0
    finally:
        subscriber.close()
    assert created == []


def test_the_pubsub_setup_job_makes_subscriptions_the_consumer_accepts(gcp_project: str):
    spec = setup.load_spec(SETUP_DIR / "subscriptions.json")
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    try:
        assert setup.reconcile(gcp_project, spec, publisher, subscriber, pubsub_v1.types, errors) == 0
        for subscription in SUBSCRIPTIONS:
            for name in (subscription, dead_letter_name(subscription)):
                subscriber.get_subscription(subscription=subscriber.subscription_path(gcp_project, name))
    finally:
        subscriber.close()
