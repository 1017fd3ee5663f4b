"""JSON API for programs (no cookies, no CSRF token): `POST /api/predict`, `POST /api/corrections` and
`GET /api/models`.

Errors are JSON objects: `{"error"}`, plus `fields` (field -> message) for input errors (422). Field names of a
correction's record are prefixed `record.` (as dbapp does). Both writes take an `Idempotency-Key` header: the
event id is derived from it, so a client that retries with the same key gets the same event id back and dbapp
stores the prediction or correction once.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from common.contracts import webapp_api as w
from common.contracts.answers import ErrorBody
from common.contracts.base import InputInvalid, parse
from common.contracts.quality import ModelsAnswer
from common.events import IDEMPOTENCY_KEY_MAX_LENGTH, idempotency_key_problem
from common.openapi import Answer, ApiDoc, write_answers
from common.schema import validate_record
from common.webservice import api_client, input_error_answer, json_body
from webapp import actions, context, model_catalog
from webapp.clients import ServiceUnavailable
from webapp.forms import CorrectionContext
from webapp.metrics import CORRECTION_REQUESTS, ERROR_COUNT, PREDICTION_REQUESTS
from webapp.publishing import BusUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")

API = ApiDoc(
    title="webapp API",
    version="1",
    description="For programs: price a house (the prediction is recorded) and send corrections. No cookies or "
    "CSRF token; errors are JSON objects.",
    prefix="/api",
)


class BadRequest(ValueError):
    """A request the API cannot read at all (not a JSON object, a malformed header): 400 with `error`. Bad fields
    are `InputInvalid`, answered 422 as by every service (`common.webservice.input_error_answer`)."""


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 400


bp.register_error_handler(InputInvalid, input_error_answer)


def _body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (Content-Type: application/json)")
    return body


IDEMPOTENCY_HEADER = "Idempotency-Key"
HEADERS = {
    IDEMPOTENCY_HEADER: {
        "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH, "pattern": "^[!-~]+$"},
        "description": "A key the client chooses for this write (a UUID, say) and sends again with every retry "
        "of it: the retry answers the same event id and the write is stored once.",
    }
}
BAD_REQUEST = Answer(
    ErrorBody,
    "The body is not JSON this route accepts (invalid, NaN/Infinity, nested too deeply), or the "
    "Idempotency-Key header is not 1-200 visible ASCII characters",
)


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    problem = idempotency_key_problem(key)
    if problem:
        raise BadRequest(f"the {IDEMPOTENCY_HEADER} header {problem}")
    return key


def _unavailable(exc: ServiceUnavailable) -> tuple[Response, int]:
    ERROR_COUNT.inc()
    log.warning("price service unavailable", extra={"reason": exc.reason, "detail": exc.detail})
    error = "the price service is not available right now"
    if exc.detail:
        error += f": {exc.detail}"
    return jsonify(error=error), 503


@bp.post("/predict")
@API.operation(
    "POST",
    "/predict",
    summary="Price one house and record the prediction",
    body=w.ApiPredictBody,
    headers=HEADERS,
    token=True,
    answers=write_answers(
        {200: Answer(w.ApiPrediction, "The price, the model and the prediction's event id")},
        invalid=Answer(ErrorBody, "Invalid house record: `fields` names each bad field"),
        unavailable=Answer(ErrorBody, "The price service is not available"),
        bad_request=BAD_REQUEST,
    ),
)
def predict() -> Response | tuple[Response, int]:
    PREDICTION_REQUESTS.inc()
    key = _idempotency_key()
    record = validate_record(_body())
    try:
        prediction, event_id = actions.predict(context.current(), record, key, api_client())
    except ServiceUnavailable as exc:
        return _unavailable(exc)
    return jsonify(result=prediction.result, model=prediction.model, event_id=event_id)


def _correction(body: dict[str, Any], key: str | None) -> tuple[CorrectionContext, float]:
    try:
        parsed = parse(w.CorrectionBody, body)
    except InputInvalid as exc:
        raise InputInvalid(exc.fields, summary="invalid correction") from None
    model = parsed.model.model_dump() if parsed.model else None
    carried = CorrectionContext(parsed.record, parsed.predicted_price, parsed.prediction_event_id, model, key)
    return carried, parsed.corrected_price


@bp.post("/corrections")
@API.operation(
    "POST",
    "/corrections",
    summary="Send the real price of a house",
    body=w.CorrectionBody,
    headers=HEADERS,
    token=True,
    answers=write_answers(
        {202: Answer(w.CorrectionAccepted, "Accepted: published for storage")},
        invalid=Answer(ErrorBody, "Invalid correction: `fields` names each bad field"),
        unavailable=Answer(ErrorBody, "The correction could not be recorded right now"),
        bad_request=BAD_REQUEST,
    ),
)
def corrections() -> tuple[Response, int]:
    CORRECTION_REQUESTS.inc()
    key = _idempotency_key()
    carried, corrected = _correction(_body(), key)
    try:
        event_id = actions.correct(context.current(), carried, corrected, api_client())
    except BusUnavailable:
        return jsonify(
            error="the correction could not be recorded right now; send it again later (with the same Idempotency-Key)"
        ), 503
    return jsonify(event_id=event_id), 202


@bp.get("/models")
@API.operation(
    "GET",
    "/models",
    summary="Every family's model versions with their holdout and live MAE, status and promotion decision",
    answers={
        200: Answer(ModelsAnswer, "Every version, newest first"),
        503: Answer(ErrorBody, "The model registry (read through mlapp) or dbapp's live quality is not available"),
    },
)
def models() -> Response | tuple[Response, int]:
    ctx = context.current()
    try:
        registry = ctx.mlapp.model_versions()
        live = ctx.dbapp.live_quality()
    except ServiceUnavailable as exc:
        ERROR_COUNT.inc()
        log.warning("model versions unavailable", extra={"service": exc.service, "reason": exc.reason})
        what = "the model registry" if exc.service == "mlapp" else "the live quality (dbapp)"
        error = f"{what} is not available right now: {exc.reason}"
        return jsonify(error=error + (f" ({exc.detail})" if exc.detail else "")), 503
    return jsonify([version.model_dump() for version in model_catalog.join(registry, live)])
