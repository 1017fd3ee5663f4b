"""Pub/Sub helpers: idempotent topic/subscription creation, a publisher, and a pull loop that acks a message
only after its handler returned (so a crash before the write committed means redelivery, never loss), moves
poison messages to the subscription's dead-letter topic and backs off after transient faults (`common.pull_loop`).

Works against Google's emulator when `PUBSUB_EMULATOR_HOST` is set (the client library reads it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from common.dead_letters import DeadLetterPublisher
from common.events import Event, dead_letter_name
from common.pull_loop import Handler, PullListener, PullLoop
from common.subscription_policy import DELIVERY_POLICIES, DeliveryPolicy

log = logging.getLogger(__name__)


def ensure_topics(project: str, topics: Iterable[str]) -> None:
    """Create each topic that does not exist. It is read first: in production Terraform owns the topics and a
    workload may only see them, and Pub/Sub answers a create without that right with PermissionDenied."""
    publisher = pubsub_v1.PublisherClient()
    for topic in topics:
        path = publisher.topic_path(project, topic)
        try:
            publisher.get_topic(topic=path)
            continue
        except gexc.NotFound:
            pass
        try:
            publisher.create_topic(name=path)
            log.info("created topic", extra={"topic": topic})
        except gexc.AlreadyExists:
            pass


def ensure_subscription(
    project: str,
    subscription: str,
    topic: str,
    ack_deadline_seconds: int = 60,
    *,
    expiration_ttl_seconds: int | None = None,
    policy: DeliveryPolicy | None = None,
) -> str:
    """Create the subscription unless it exists; returns its path.

    A subscription with a delivery policy (`policy`, by default the platform's for a durable subscription of
    `common.events.SUBSCRIPTIONS`) is created as Terraform and the pubsub-setup Job create it: its dead-letter
    topic and a subscription on that topic (which keeps what lands there) first, then the subscription with the
    policy's ack deadline, retention, retry policy and dead-letter policy, never expiring. All of this only when
    the subscription is missing: an existing one is Terraform's or the Job's (which check it), and in Google
    Cloud a workload may only read it.

    `expiration_ttl_seconds` (Pub/Sub's minimum is one day; not with a policy) lets Pub/Sub delete a subscription
    nobody pulled from for that long: for per-process subscriptions whose owner may die without cleaning up
    (SIGKILL, OOM).
    """
    policy = policy or DELIVERY_POLICIES.get(subscription)
    subscriber = pubsub_v1.SubscriberClient()
    path = cast(str, subscriber.subscription_path(project, subscription))
    try:
        subscriber.get_subscription(subscription=path)  # read first, as for topics
    except gexc.NotFound:
        request: dict[str, Any] = {"name": path, "topic": subscriber.topic_path(project, topic)}
        if policy is None:
            request["ack_deadline_seconds"] = ack_deadline_seconds
            if expiration_ttl_seconds is not None:
                request["expiration_policy"] = {"ttl": {"seconds": expiration_ttl_seconds}}
        else:
            request |= _create_dead_letter_subscription(subscriber, project, subscription, policy)
        _create_subscription(subscriber, request)
    finally:
        subscriber.close()
    return path


def _create_dead_letter_subscription(
    subscriber: pubsub_v1.SubscriberClient, project: str, subscription: str, policy: DeliveryPolicy
) -> dict[str, Any]:
    """Create `subscription`'s dead-letter topic and the subscription on it (unless they exist); return the
    create-request fields of `subscription` itself that the policy sets."""
    dead = dead_letter_name(subscription)
    ensure_topics(project, [dead])
    dead_topic = subscriber.topic_path(project, dead)
    fields = policy.subscription_fields()
    dead_path = subscriber.subscription_path(project, dead)
    try:
        subscriber.get_subscription(subscription=dead_path)
    except gexc.NotFound:
        _create_subscription(subscriber, {"name": dead_path, "topic": dead_topic, **fields})
    return {**fields, "dead_letter_policy": policy.dead_letter_policy(dead_topic)}


def _create_subscription(subscriber: pubsub_v1.SubscriberClient, request: dict[str, Any]) -> None:
    try:
        subscriber.create_subscription(request=request)
        log.info("created subscription", extra={"subscription": request["name"], "topic": request["topic"]})
    except gexc.AlreadyExists:
        pass


def delete_subscription(project: str, subscription: str) -> None:
    subscriber = pubsub_v1.SubscriberClient()
    try:
        subscriber.delete_subscription(subscription=subscriber.subscription_path(project, subscription))
    except gexc.NotFound:
        pass
    finally:
        subscriber.close()


class Publisher:
    """Publishes events to the topic their type belongs to and waits for the server's acknowledgement."""

    def __init__(self, project: str):
        self.project = project
        # Every publish waits for its acknowledgement, so batching only delays it: the client's default holds a
        # message up to 10 ms for company (that was most of the web app's form round trip). Send each at once.
        self._client = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(max_messages=1))

    def publish(self, event: Event, timeout: float = 30.0) -> str:
        future = self._client.publish(self._client.topic_path(self.project, event.topic), event.to_json())
        message_id = cast(str, future.result(timeout=timeout))
        log.info("published event", extra={"event_id": event.event_id, "event_type": event.type})
        return message_id


def pull_forever(
    project: str,
    subscription: str,
    handler: Handler,
    stop: threading.Event,
    *,
    max_messages: int = 50,
    dead_letter: bool = False,
    ready: Callable[[], None] | None = None,
    listener: PullListener | None = None,
) -> None:
    """Synchronous pull until `stop` is set; `common.pull_loop` says what happens to each message.

    `dead_letter`: poison messages go to the subscription's dead-letter topic (`<subscription>-dead-letter`, which
    `ensure_subscription` creates with the subscription); without it they are logged and acked. `ready` (e.g.
    the database's ping) must pass before the loop pulls again after a transient fault. `listener` is told of
    dead-lettered and retried messages.
    """
    subscriber = pubsub_v1.SubscriberClient()
    dead_letters = DeadLetterPublisher(project, subscription) if dead_letter else None
    path = subscriber.subscription_path(project, subscription)
    loop = PullLoop(
        subscriber,
        subscription,
        path,
        handler,
        stop,
        dead_letters=dead_letters,
        ready=ready,
        listener=listener,
        max_messages=max_messages,
    )
    try:
        loop.run()
    finally:
        subscriber.close()
