"""Versioned event envelopes exchanged over Pub/Sub, defined once for every producer and consumer (the payload
models are `common.contracts.events`).

An envelope is `{"event_id", "type", "schema_version", "occurred_at", "data"}`. The producer sets a UUID
`event_id`; consumers upsert by it, so a redelivered message never duplicates data. A producer that was given
an idempotency key derives the id from it (`event_id_for_key`), so a retried request publishes the same event
and is stored once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from common.contracts.base import InputInvalid, Payload, parse
from common.contracts.events import EVENT_DATA, Envelope

TOPIC_PREDICTIONS = "predictions"
TOPIC_CORRECTIONS = "corrections"
TOPIC_DATASET_VERSIONS = "dataset-versions"
TOPIC_MODEL_PROMOTIONS = "model-promotions"
TOPIC_REGION_EVENTS = "region-events"  # the failover controller's decisions (no platform subscriber: an audit trail)
ALL_TOPICS = (
    TOPIC_PREDICTIONS,
    TOPIC_CORRECTIONS,
    TOPIC_DATASET_VERSIONS,
    TOPIC_MODEL_PROMOTIONS,
    TOPIC_REGION_EVENTS,
)

# Durable subscriptions owned by the platform (mlapp's per-replica subscriptions are created at runtime): dbapp's
# consumer stores predictions and corrections; the retraining dispatcher starts training on each dataset version.
DBAPP_SUBSCRIPTIONS = {
    "dbapp-predictions": TOPIC_PREDICTIONS,
    "dbapp-corrections": TOPIC_CORRECTIONS,
}
DISPATCHER_SUBSCRIPTION = "dispatcher-dataset-versions"
SUBSCRIPTIONS = {**DBAPP_SUBSCRIPTIONS, DISPATCHER_SUBSCRIPTION: TOPIC_DATASET_VERSIONS}
# Each durable subscription `<name>` has a dead-letter topic `<name>-dead-letter` and a subscription of the same
# name on it that keeps what lands there (infra/terraform/pubsub.tf, k8s_ml/base/pubsub/subscriptions.json).
DEAD_LETTER_SUFFIX = "-dead-letter"


def dead_letter_name(subscription: str) -> str:
    """The dead-letter topic of `subscription`, and the subscription on that topic that retains its messages."""
    return subscription + DEAD_LETTER_SUFFIX


EVENT_TYPES = {
    "prediction.made": TOPIC_PREDICTIONS,
    "correction.submitted": TOPIC_CORRECTIONS,
    "dataset.version.committed": TOPIC_DATASET_VERSIONS,
    "model.promoted": TOPIC_MODEL_PROMOTIONS,
    "traffic.shifted": TOPIC_REGION_EVENTS,
}
SCHEMA_VERSION = 1

# Fixed namespace of the ids derived from idempotency keys (changing it would make retries store twice).
IDEMPOTENCY_NAMESPACE = uuid.UUID("5c0e1d7a-3f42-4b8e-9a51-8d2f6c4b7e10")
IDEMPOTENCY_KEY_MAX_LENGTH = 200


def idempotency_key_problem(key: str) -> str | None:
    """Why `key` cannot be an idempotency key (1-200 visible ASCII characters), or None when it can."""
    if not key:
        return "must not be empty"
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        return f"must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters"
    if not all("!" <= char <= "~" for char in key):
        return "must be visible ASCII characters (no spaces or control characters)"
    return None


def event_id_for_key(event_type: str, key: str, scope: str = "") -> str:
    """The event id for a write sent with idempotency key `key`: the same type, scope and key always give the
    same id. `scope` keeps one client's keys apart from another's (the API client's name when tokens are set)."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{event_type}\n{scope}\n{key}"))


class EventInvalid(ValueError):
    """A message is not a well-formed envelope; the message names the problem."""


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    schema_version: int = SCHEMA_VERSION
    occurred_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def topic(self) -> str:
        return EVENT_TYPES[self.type]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "event_id": self.event_id,
                "type": self.type,
                "schema_version": self.schema_version,
                "occurred_at": self.occurred_at,
                "data": self.data,
            },
            separators=(",", ":"),
        ).encode()

    def payload(self) -> Payload:
        """The data as its type's model; `InputInvalid` (fields under `data.`) when it does not fit."""
        return parse(EVENT_DATA[self.type], self.data, "data")

    @classmethod
    def from_json(cls, payload: bytes | str) -> Event:
        """A received envelope, checked against `common.contracts.events.Envelope`; its data is checked by the
        consumer (`payload()`, or the consumer's own normal form), which decides what an invalid one means."""
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, RecursionError, ValueError) as exc:
            raise EventInvalid(f"not JSON: {str(exc)[:200]}") from exc
        if not isinstance(doc, dict):
            raise EventInvalid("the envelope must be a JSON object")
        try:
            envelope = parse(Envelope, doc)
        except InputInvalid as exc:
            raise EventInvalid(f"invalid {doc.get('type', 'event')!r} envelope: {exc}") from None
        return cls(
            type=envelope.type,
            data=envelope.data,
            event_id=str(envelope.event_id),
            schema_version=envelope.schema_version,
            occurred_at=str(doc["occurred_at"]),
        )
