"""Pub/Sub helpers: idempotent topic/subscription creation, a publisher, and a pull loop that acks a message
only after its handler returned (so a crash before the write committed means redelivery, never loss).

Works against Google's emulator when `PUBSUB_EMULATOR_HOST` is set (the client library reads it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from common.events import Event, EventInvalid

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
) -> str:
    """Create the subscription unless it exists; returns its path.

    `expiration_ttl_seconds` (Pub/Sub's minimum is one day) lets Pub/Sub delete a subscription nobody pulled
    from for that long: for per-process subscriptions whose owner may die without cleaning up (SIGKILL, OOM).
    """
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    request: dict = {
        "name": path,
        "topic": subscriber.topic_path(project, topic),
        "ack_deadline_seconds": ack_deadline_seconds,
    }
    if expiration_ttl_seconds is not None:
        request["expiration_policy"] = {"ttl": {"seconds": expiration_ttl_seconds}}
    try:
        subscriber.get_subscription(subscription=path)  # read first, as for topics
    except gexc.NotFound:
        try:
            subscriber.create_subscription(request=request)
            log.info("created subscription", extra={"subscription": subscription, "topic": topic})
        except gexc.AlreadyExists:
            pass
    finally:
        subscriber.close()
    return path


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
        message_id = future.result(timeout=timeout)
        log.info("published event", extra={"event_id": event.event_id, "event_type": event.type})
        return message_id


Handler = Callable[[Event], None]


def pull_forever(
    project: str,
    subscription: str,
    handler: Handler,
    stop: threading.Event,
    *,
    max_messages: int = 50,
    on_invalid: Callable[[bytes, EventInvalid], None] | None = None,
) -> None:
    """Synchronous pull until `stop` is set. Each message is acked only after `handler` returned.

    A handler exception leaves the message unacked (nack: redelivered later). A message that is not a valid
    envelope can never succeed, so it is reported to `on_invalid` (or logged) and acked: the emulator has no
    dead-letter topic, and production's dead-letter policy is configured on the subscription.
    """
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    try:
        while not stop.is_set():
            try:
                response = subscriber.pull(request={"subscription": path, "max_messages": max_messages}, timeout=5.0)
            except (gexc.DeadlineExceeded, gexc.ServiceUnavailable, gexc.RetryError):
                continue
            ack_ids, nack_ids = [], []
            for received in response.received_messages:
                try:
                    event = Event.from_json(received.message.data)
                except EventInvalid as exc:
                    if on_invalid:
                        on_invalid(received.message.data, exc)
                    else:
                        log.error("invalid event dropped", extra={"reason": str(exc)})
                    ack_ids.append(received.ack_id)
                    continue
                try:
                    handler(event)
                    ack_ids.append(received.ack_id)
                except Exception:
                    log.exception("handler failed; message will be redelivered", extra={"event_id": event.event_id})
                    nack_ids.append(received.ack_id)
            if ack_ids:
                subscriber.acknowledge(request={"subscription": path, "ack_ids": ack_ids})
            if nack_ids:
                subscriber.modify_ack_deadline(
                    request={"subscription": path, "ack_ids": nack_ids, "ack_deadline_seconds": 0}
                )
    finally:
        subscriber.close()
