"""Versioned event envelopes exchanged over Pub/Sub, defined once for every producer and consumer.

An envelope is `{"event_id", "type", "schema_version", "occurred_at", "data"}`. The producer sets a UUID
`event_id`; consumers upsert by it, so a redelivered message never duplicates data.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TOPIC_PREDICTIONS = "predictions"
TOPIC_CORRECTIONS = "corrections"
TOPIC_DATASET_VERSIONS = "dataset-versions"
TOPIC_MODEL_PROMOTIONS = "model-promotions"
ALL_TOPICS = (TOPIC_PREDICTIONS, TOPIC_CORRECTIONS, TOPIC_DATASET_VERSIONS, TOPIC_MODEL_PROMOTIONS)

# Durable subscriptions owned by the platform (mlapp's per-replica subscriptions are created at runtime).
SUBSCRIPTIONS = {
    "dbapp-predictions": TOPIC_PREDICTIONS,
    "dbapp-corrections": TOPIC_CORRECTIONS,
}

EVENT_TYPES = {
    "prediction.made": TOPIC_PREDICTIONS,
    "correction.submitted": TOPIC_CORRECTIONS,
    "dataset.version.committed": TOPIC_DATASET_VERSIONS,
    "model.promoted": TOPIC_MODEL_PROMOTIONS,
}
SCHEMA_VERSION = 1


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

    @classmethod
    def from_json(cls, payload: bytes | str) -> Event:
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EventInvalid(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise EventInvalid("the envelope must be a JSON object")
        missing = [k for k in ("event_id", "type", "schema_version", "occurred_at", "data") if k not in doc]
        if missing:
            raise EventInvalid(f"missing envelope field(s): {', '.join(missing)}")
        if doc["type"] not in EVENT_TYPES:
            raise EventInvalid(f"unknown event type {doc['type']!r}")
        if doc["schema_version"] != SCHEMA_VERSION:
            raise EventInvalid(f"unsupported schema_version {doc['schema_version']!r} (want {SCHEMA_VERSION})")
        try:
            uuid.UUID(str(doc["event_id"]))
        except ValueError:
            raise EventInvalid(f"event_id {doc['event_id']!r} is not a UUID") from None
        if not isinstance(doc["data"], dict):
            raise EventInvalid("data must be a JSON object")
        return cls(
            type=doc["type"],
            data=doc["data"],
            event_id=str(doc["event_id"]),
            schema_version=doc["schema_version"],
            occurred_at=str(doc["occurred_at"]),
        )
