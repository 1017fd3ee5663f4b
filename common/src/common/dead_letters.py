"""Moving a message that can never be processed (poison) to its subscription's dead-letter topic.

Pub/Sub's own dead-letter policy only moves a message after `max_delivery_attempts` deliveries, and says nothing
about why. A consumer that knows a message is poison (`Poison`) moves it at once with `DeadLetterPublisher`: the
data and attributes unchanged, plus `common.contracts.dead_letters.DeadLetterAttributes` (reason, detail, source
subscription and message id). The caller acks the original only after that publish succeeded, so a message is
never lost between the two.
"""

from __future__ import annotations

from typing import cast

from google.cloud import pubsub_v1
from google.pubsub_v1.types import PubsubMessage

from common.contracts.dead_letters import DeadLetterAttributes, DeadLetterReason
from common.events import dead_letter_name

MAX_ATTRIBUTE_BYTES = 1024  # Pub/Sub's limit on an attribute value


class Poison(Exception):
    """Raised by a handler for a message that can never be processed as it is: it is dead-lettered, not retried.

    `event_type` is the envelope's type when the envelope could be read ("unknown" otherwise), for metrics."""

    def __init__(self, reason: DeadLetterReason, detail: str, event_type: str = "unknown") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: DeadLetterReason = reason
        self.detail = detail
        self.event_type = event_type


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8 without splitting a character."""
    return text.encode()[:max_bytes].decode(errors="ignore")


class DeadLetterPublisher:
    """Publishes poison messages of one subscription to its dead-letter topic (`<subscription>-dead-letter`)."""

    def __init__(
        self,
        project: str,
        subscription: str,
        *,
        client: pubsub_v1.PublisherClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        # One message at a time, as common.bus.Publisher: the caller waits for each acknowledgement anyway.
        batch_settings = pubsub_v1.types.BatchSettings(max_messages=1)
        self._client = client or pubsub_v1.PublisherClient(batch_settings=batch_settings)
        self.subscription = subscription
        self.topic_path = self._client.topic_path(project, dead_letter_name(subscription))
        self._timeout = timeout

    def publish(self, message: PubsubMessage, poison: Poison) -> str:
        """Publish `message` with the dead-letter attributes and wait for the server; raises if that failed."""
        added = DeadLetterAttributes(
            dead_letter_reason=poison.reason,
            dead_letter_detail=truncate_utf8(poison.detail, MAX_ATTRIBUTE_BYTES),
            dead_letter_source_subscription=self.subscription,
            dead_letter_source_message_id=message.message_id,
        )
        attributes = {**message.attributes, **added.model_dump()}
        future = self._client.publish(self.topic_path, message.data, **attributes)
        return cast(str, future.result(timeout=self._timeout))
