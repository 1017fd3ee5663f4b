"""The events webapp publishes: `prediction.made` and `correction.submitted` (dbapp's consumer stores them).

webapp never writes to dbapp directly; the bus is the only way in, so a correction is accepted even when mlapp
is down.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from common.contracts.events import CorrectionSubmitted, PredictionMade
from common.contracts.house import ModelRef
from common.events import Event, event_id_for_key

log = logging.getLogger(__name__)


class EventBus(Protocol):
    def publish(self, event: Event, timeout: float = 30.0) -> str: ...


class BusUnavailable(RuntimeError):
    """The event could not be published; the message says why (for logs)."""


def _event(event_type: str, data: dict[str, Any], idempotency_key: str | None, scope: str) -> Event:
    """A new event; its id is derived from the idempotency key when there is one, so a retry is the same event."""
    if idempotency_key is None:
        return Event(type=event_type, data=data)
    return Event(type=event_type, data=data, event_id=event_id_for_key(event_type, idempotency_key, scope))


def prediction_event(
    record: dict[str, Any],
    result: float,
    model: dict[str, Any],
    idempotency_key: str | None = None,
    scope: str = "",
) -> Event:
    data = PredictionMade(record=record, result=result, model=ModelRef.model_validate(model))
    return _event("prediction.made", data.model_dump(mode="json"), idempotency_key, scope)


def correction_event(
    record: dict[str, Any],
    corrected_price: float,
    predicted_price: float | None = None,
    prediction_event_id: str | None = None,
    model: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    scope: str = "",
) -> Event:
    data = CorrectionSubmitted(
        record=record,
        predicted_price=predicted_price,
        corrected_price=corrected_price,
        prediction_event_id=prediction_event_id,
        model=ModelRef.model_validate(model) if model is not None else None,
    )
    return _event("correction.submitted", data.model_dump(mode="json"), idempotency_key, scope)


def publish(bus: EventBus, event: Event, timeout: float) -> str:
    """Publish and wait for the bus to acknowledge; `BusUnavailable` if it does not within `timeout` seconds."""
    try:
        bus.publish(event, timeout=timeout)
    except Exception as exc:
        log.error(
            "publishing failed", extra={"event_id": event.event_id, "event_type": event.type, "reason": repr(exc)[:300]}
        )
        raise BusUnavailable(f"{event.type} {event.event_id}: {exc!r:.200}") from exc
    return event.event_id
