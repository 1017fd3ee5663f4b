"""How Pub/Sub delivers the durable subscriptions: ack deadline, retention, redelivery backoff and dead-lettering.

The values are infra/terraform/pubsub.tf's (and k8s_ml/base/pubsub/subscriptions.json's, which the pubsub-setup
Job applies); tests/unit/test_terraform_pubsub.py proves the three agree. `common.bus.ensure_subscription` uses
them when it creates a subscription itself (locally, against the emulator), so a local subscription is made
exactly as in Google Cloud. The emulator honours both policies: after `max_delivery_attempts` deliveries it moves
a message to the dead-letter topic, and it spaces redeliveries by the retry policy (the first one comes at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.events import SUBSCRIPTIONS


@dataclass(frozen=True)
class DeliveryPolicy:
    # What a pulled message waits before Pub/Sub delivers it again when its consumer died holding it. Every
    # handler settles a pulled batch in milliseconds (the dispatcher queues its trainings, the loop pulls nothing
    # while the database is down), so 20 s is ample; at 60 s the writes a killed consumer held showed up a minute
    # late (seen in the chaos tier).
    ack_deadline_seconds: int = 20
    message_retention_seconds: int = 7 * 24 * 3600
    # Pub/Sub itself dead-letters a message after this many deliveries: what catches a message that fails for an
    # unforeseen reason (a bug) and is not recognised as poison. A database outage spends few of them, because the
    # consumer stops pulling until the database answers again (common.pull_loop).
    max_delivery_attempts: int = 10
    minimum_backoff_seconds: int = 10
    maximum_backoff_seconds: int = 600

    def subscription_fields(self) -> dict[str, Any]:
        """The create-request fields (Pub/Sub v1 names) of both the subscription and its dead-letter subscription:
        never expires, retains unacked messages for the retention, spaces redeliveries by the retry policy."""
        return {
            "ack_deadline_seconds": self.ack_deadline_seconds,
            "message_retention_duration": {"seconds": self.message_retention_seconds},
            "expiration_policy": {},  # no ttl: never expires
            "retry_policy": {
                "minimum_backoff": {"seconds": self.minimum_backoff_seconds},
                "maximum_backoff": {"seconds": self.maximum_backoff_seconds},
            },
        }

    def dead_letter_policy(self, dead_letter_topic_path: str) -> dict[str, Any]:
        return {"dead_letter_topic": dead_letter_topic_path, "max_delivery_attempts": self.max_delivery_attempts}


# Every durable subscription of `common.events.SUBSCRIPTIONS` has the same policy (as in Terraform's locals).
DELIVERY_POLICIES: dict[str, DeliveryPolicy] = {name: DeliveryPolicy() for name in SUBSCRIPTIONS}
