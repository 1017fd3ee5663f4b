"""JSON API for programs (no cookies, no CSRF token): `POST /api/predict` and `POST /api/corrections`.

Errors are JSON objects: `{"error"}`, plus `fields` (field -> message) for input errors (422). Field names of a
correction's record are prefixed `record.` (as dbapp does).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, request

from common.schema import RecordInvalid, validate_record
from webapp import actions, context
from webapp.clients import InputRejected, ServiceUnavailable
from webapp.forms import CorrectionContext, parse_price
from webapp.metrics import CORRECTION_REQUESTS, ERROR_COUNT, PREDICTION_REQUESTS
from webapp.publishing import BusUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")

MAX_ID_LENGTH = 128


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.fields = fields


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    body: dict[str, Any] = {"error": str(exc)}
    if exc.fields is not None:
        body["fields"] = exc.fields
    return jsonify(body), exc.status


def _body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (Content-Type: application/json)")
    return body


def _unavailable(exc: ServiceUnavailable):
    ERROR_COUNT.inc()
    log.warning("price service unavailable", extra={"reason": exc.reason, "detail": exc.detail})
    error = "the price service is not available right now"
    if exc.detail:
        error += f": {exc.detail}"
    return jsonify(error=error), 503


@bp.post("/predict")
def predict():
    PREDICTION_REQUESTS.inc()
    try:
        record = validate_record(_body())
    except RecordInvalid as exc:
        raise BadRequest(f"invalid house record: {exc}", 422, exc.fields) from None
    try:
        prediction, event_id = actions.predict(context.current(), record)
    except InputRejected as exc:
        raise BadRequest(f"invalid house record: {exc}", 422, exc.fields) from None
    except ServiceUnavailable as exc:
        return _unavailable(exc)
    return jsonify(result=prediction.result, model=prediction.model, event_id=event_id)


def _correction(body: dict[str, Any]) -> tuple[CorrectionContext, float]:
    errors: dict[str, str] = {}
    record: dict[str, Any] | None = None
    if body.get("record") is None:
        errors["record"] = "is required (an object with the 16 house fields)"
    else:
        try:
            record = validate_record(body["record"])
        except RecordInvalid as exc:
            errors.update({("record" if k == "record" else f"record.{k}"): v for k, v in exc.fields.items()})
    corrected, error = parse_price(body.get("corrected_price"))
    if error:
        errors["corrected_price"] = error
    predicted = None
    if body.get("predicted_price") is not None:
        predicted, error = parse_price(body["predicted_price"])
        if error:
            errors["predicted_price"] = error
    event_id = body.get("prediction_event_id")
    valid_id = isinstance(event_id, str) and event_id.strip() and len(event_id) <= MAX_ID_LENGTH
    if event_id is not None and not valid_id:
        errors["prediction_event_id"] = f"must be a non-empty string of at most {MAX_ID_LENGTH} characters"
    model = body.get("model")
    if model is not None and not isinstance(model, dict):
        errors["model"] = "must be an object (name, version, family)"
    if errors or record is None or corrected is None:
        raise BadRequest("invalid correction: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), 422, errors)
    carried = CorrectionContext(record, predicted, event_id.strip() if event_id else None, model)
    return carried, corrected


@bp.post("/corrections")
def corrections():
    CORRECTION_REQUESTS.inc()
    carried, corrected = _correction(_body())
    try:
        event_id = actions.correct(context.current(), carried, corrected)
    except BusUnavailable:
        return jsonify(error="the correction could not be recorded right now; send it again later"), 503
    return jsonify(event_id=event_id), 202
