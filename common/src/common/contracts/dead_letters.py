"""Dead letters: what a consumer adds to a message it moves to its subscription's dead-letter topic, and how the
`dbapp-dead-letters` tool shows one.

A dead-lettered message keeps its data and attributes unchanged; the consumer adds `DeadLetterAttributes`. A
message Pub/Sub itself moved there (after `max_delivery_attempts` deliveries) carries Pub/Sub's own
`CloudPubSubDeadLetterSource*` attributes instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from common.contracts.base import Payload

# Why a consumer moved a message aside. Each means it can never be processed as it is, so retrying is pointless.
DeadLetterReason = Literal[
    "invalid-envelope",  # not JSON, or not an event envelope (common.events.Envelope)
    "unknown-type",  # a well-formed event of a type this subscription's consumer does not process
    "invalid-data",  # the event's data breaks the rules of its type
]
# Pub/Sub's attribute on the messages it dead-lettered itself, and the reason the tool shows for them.
PUBSUB_DELIVERY_COUNT_ATTRIBUTE = "CloudPubSubDeadLetterSourceDeliveryCount"
TOO_MANY_ATTEMPTS = "too-many-attempts"


class DeadLetterAttributes(Payload):
    """Added to the original attributes (Pub/Sub attribute values are strings of at most 1024 bytes)."""

    dead_letter_reason: DeadLetterReason
    dead_letter_detail: str = Field(max_length=1024, description="The error, readable by a person")
    dead_letter_source_subscription: str = Field(min_length=1, max_length=255)
    dead_letter_source_message_id: str = Field(min_length=1, max_length=255)


class DeadLetter(Payload):
    """One line of `dbapp-dead-letters list`."""

    message_id: str = Field(description="The message's id on the dead-letter subscription")
    publish_time: datetime = Field(description="When it was published to the dead-letter topic")
    reason: DeadLetterReason | Literal["too-many-attempts", "unknown"]
    detail: str | None = None
    source_subscription: str | None = None
    source_message_id: str | None = None
    delivery_attempts: int | None = Field(None, description="Deliveries before Pub/Sub moved it (too-many-attempts)")
    attributes: dict[str, str] = Field(description="The original attributes (dead-letter ones removed)")
    data: str = Field(description="The message data as text (undecodable bytes replaced), at most 2000 characters")
