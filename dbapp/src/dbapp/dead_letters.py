"""`dbapp-dead-letters`: see, and replay, the messages on dbapp's dead-letter subscriptions.

    dbapp-dead-letters list   [--subscription dbapp-corrections] [--max 100]
    dbapp-dead-letters replay [--subscription dbapp-corrections] [--max 100]

`--subscription` is the consumer's subscription (default: both); its dead letters are on
`<subscription>-dead-letter`. `list` writes one JSON line per message to stdout
(`common.contracts.dead_letters.DeadLetter`: reason, detail, source message id, original attributes, data) and
leaves every message where it is. `replay` publishes each message's data and original attributes (the
dead-letter ones removed) again to the topic the subscription reads, so every subscription of that topic gets
it again, and acks it on the dead-letter subscription only after that publish succeeded. Replay once the cause
is fixed: a message that is still poison goes straight back. Same environment as `dbapp-consumer` (GCP_PROJECT
or PUBSUB_EMULATOR_HOST); log lines go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage
from pydantic import ValidationError

from common.contracts.dead_letters import (
    PUBSUB_DELIVERY_COUNT_ATTRIBUTE,
    TOO_MANY_ATTEMPTS,
    DeadLetter,
    DeadLetterAttributes,
)
from common.events import SUBSCRIPTIONS, dead_letter_name
from common.jsonlog import configure_logging
from common.pull_loop import PULL_TIMEOUT_SECONDS
from common.settings import ConfigError, Settings

log = logging.getLogger("dbapp.dead_letters")

OUR_ATTRIBUTES = frozenset(DeadLetterAttributes.model_fields)
PUBSUB_PREFIX = "CloudPubSubDeadLetter"  # Pub/Sub's attributes on the messages it dead-lettered itself
MAX_DATA_CHARS = 2000


def original_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """The attributes the message had before it was dead-lettered."""
    return {k: v for k, v in attributes.items() if k not in OUR_ATTRIBUTES and not k.startswith(PUBSUB_PREFIX)}


def describe(received: ReceivedMessage) -> DeadLetter:
    message = received.message
    attributes = dict(message.attributes)
    fields: dict[str, Any] = {"reason": "unknown"}
    try:
        ours = DeadLetterAttributes.model_validate({k: v for k, v in attributes.items() if k in OUR_ATTRIBUTES})
        fields = {
            "reason": ours.dead_letter_reason,
            "detail": ours.dead_letter_detail,
            "source_subscription": ours.dead_letter_source_subscription,
            "source_message_id": ours.dead_letter_source_message_id,
        }
    except ValidationError:
        if PUBSUB_DELIVERY_COUNT_ATTRIBUTE in attributes:
            fields = {
                "reason": TOO_MANY_ATTEMPTS,
                "source_subscription": attributes.get(f"{PUBSUB_PREFIX}SourceSubscription"),
                "delivery_attempts": int(attributes[PUBSUB_DELIVERY_COUNT_ATTRIBUTE]),
            }
    return DeadLetter(
        message_id=message.message_id,
        publish_time=message.publish_time,
        attributes=original_attributes(attributes),
        data=message.data.decode(errors="replace")[:MAX_DATA_CHARS],
        **fields,
    )


def pull_up_to(subscriber: pubsub_v1.SubscriberClient, path: str, limit: int) -> list[ReceivedMessage]:
    """Up to `limit` messages, leased (for the subscription's ack deadline) until the caller settles them."""
    received: list[ReceivedMessage] = []
    while len(received) < limit:
        try:
            response = subscriber.pull(
                request={"subscription": path, "max_messages": min(100, limit - len(received))},
                timeout=PULL_TIMEOUT_SECONDS,
            )
        except gexc.DeadlineExceeded:
            break
        if not response.received_messages:
            break
        received.extend(response.received_messages)
    return received


def list_dead_letters(project: str, subscription: str, limit: int) -> list[DeadLetter]:
    """What is on `subscription`'s dead-letter subscription (up to `limit`); every message stays there."""
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, dead_letter_name(subscription))
    try:
        received = pull_up_to(subscriber, path, limit)
        if received:
            ack_ids = [item.ack_id for item in received]
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": ack_ids, "ack_deadline_seconds": 0}
            )
        return [describe(item) for item in received]
    finally:
        subscriber.close()


def replay(project: str, subscription: str, limit: int) -> int:
    """Publish up to `limit` dead letters of `subscription` to its topic again; returns how many."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, dead_letter_name(subscription))
    topic = publisher.topic_path(project, SUBSCRIPTIONS[subscription])
    replayed = 0
    try:
        for item in pull_up_to(subscriber, path, limit):
            attributes = original_attributes(dict(item.message.attributes))
            publisher.publish(topic, item.message.data, **attributes).result(timeout=30)
            subscriber.acknowledge(request={"subscription": path, "ack_ids": [item.ack_id]})
            replayed += 1
            log.info("replayed", extra={"dead_letter_message_id": item.message.message_id, "topic": topic})
    finally:
        subscriber.close()
    return replayed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbapp-dead-letters", description=__doc__.split("\n", 1)[0])
    parser.add_argument("action", choices=("list", "replay"))
    parser.add_argument("--subscription", choices=sorted(SUBSCRIPTIONS), help="default: every dbapp subscription")
    parser.add_argument("--max", type=int, default=100, help="at most this many messages per subscription")
    args = parser.parse_args(argv)
    configure_logging("dbapp-dead-letters")
    handler = logging.getLogger().handlers[0]
    if not isinstance(handler, logging.StreamHandler):
        raise TypeError(f"configure_logging installed {handler!r}, not a StreamHandler that can move to stderr")
    handler.setStream(sys.stderr)  # stdout carries only the dead letters
    try:
        project = Settings.from_env("dbapp").gcp_project
    except ConfigError as exc:
        log.error(f"configuration error: {exc}")
        return 2
    for subscription in [args.subscription] if args.subscription else sorted(SUBSCRIPTIONS):
        if args.action == "list":
            for letter in list_dead_letters(project, subscription, args.max):
                sys.stdout.write(letter.model_dump_json() + "\n")
        else:
            count = replay(project, subscription, args.max)
            log.info(f"replayed {count} dead letters of {subscription}", extra={"subscription": subscription})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
