"""The two things a user (page or program) can do, shared by the HTML routes and the JSON API.

- predict: ask mlapp for a price, then publish `prediction.made` (the form: commit it to the outbox, which
  publishes it). A price is shown even if the event could not be recorded (the event id is then None and the
  failure is logged and counted).
- correct: publish `correction.submitted`. Only the bus is needed, so corrections work while mlapp is down.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from webapp.clients import Prediction
from webapp.context import WebappContext
from webapp.forms import CorrectionContext
from webapp.metrics import ERROR_COUNT, LAST_PREDICTED_PRICE, PREDICTION_LATENCY
from webapp.publishing import BusUnavailable, correction_event, prediction_event, publish

log = logging.getLogger(__name__)


def predict(
    ctx: WebappContext,
    record: dict[str, Any],
    idempotency_key: str | None = None,
    scope: str = "",
    *,
    via_outbox: bool = False,
) -> tuple[Prediction, str | None]:
    """Raises `clients.ServiceUnavailable` or `clients.InputRejected`; never returns a price mlapp did not give.

    With an idempotency key, a retry publishes the same event id, so dbapp records the prediction once.
    `via_outbox` (the form): the event is committed to the outbox, when there is one, and the relay publishes
    it; otherwise (the API) this waits for the bus's acknowledgement."""
    started = time.perf_counter()
    prediction = ctx.mlapp.predict(record)
    PREDICTION_LATENCY.observe(time.perf_counter() - started)
    LAST_PREDICTED_PRICE.set(prediction.result)
    event = prediction_event(record, prediction.result, prediction.model, idempotency_key, scope)
    event_id: str | None = event.event_id
    try:
        if via_outbox and ctx.outbox is not None:
            ctx.outbox.put(event)
        else:
            publish(ctx.bus, event, ctx.config.publish_timeout)
    except BusUnavailable:  # publish() logged why
        ERROR_COUNT.inc()
        event_id = None
    except (OSError, sqlite3.Error) as exc:
        ERROR_COUNT.inc()
        log.error("the outbox did not take the prediction", extra={"event_id": event_id, "reason": repr(exc)[:300]})
        event_id = None
    log.info(
        "price predicted",
        extra={"event_id": event_id, "price": prediction.result, "model_version": prediction.model.get("version")},
    )
    return prediction, event_id


def correct(ctx: WebappContext, carried: CorrectionContext, corrected_price: float, scope: str = "") -> str:
    """Publish the correction and return its event id; raises `BusUnavailable` (counted) if it was not accepted.

    The event id is derived from the carried idempotency key when there is one: a resubmitted form or a retried
    API call publishes the same event, which dbapp stores once."""
    event = correction_event(
        carried.record,
        corrected_price,
        predicted_price=carried.predicted_price,
        prediction_event_id=carried.prediction_event_id,
        model=carried.model,
        idempotency_key=carried.idempotency_key,
        scope=scope,
    )
    try:
        event_id = publish(ctx.bus, event, ctx.config.publish_timeout)
    except BusUnavailable:
        ERROR_COUNT.inc()
        raise
    log.info(
        "correction submitted",
        extra={"event_id": event_id, "prediction_event_id": carried.prediction_event_id, "price": corrected_price},
    )
    return event_id
