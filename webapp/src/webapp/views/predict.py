"""The seed's pages: home, the prediction form, the result page with its correction form, the confirmation."""

from __future__ import annotations

import logging
import uuid

from flask import Blueprint, render_template, request

from common.schema import INPUT_FIELDS
from webapp import actions, context, messages
from webapp.clients import InputRejected, Prediction, ServiceUnavailable
from webapp.forms import (
    CorrectionContext,
    TokenInvalid,
    example_values,
    grouped_fields,
    house_record,
    parse_price,
)
from webapp.metrics import CORRECTION_REQUESTS, ERROR_COUNT, PREDICTION_REQUESTS
from webapp.publishing import BusUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("predict", __name__)
GROUPS = grouped_fields()


@bp.context_processor
def _fields() -> dict[str, object]:
    return {"groups": GROUPS, "fields": INPUT_FIELDS}


@bp.get("/")
def home() -> str:
    return render_template("home.html")


@bp.get("/predict_page")
def predict_page() -> str:
    values = example_values() if request.args.get("example") else {}
    return render_template("predict.html", values=values, errors={}, notice=None)


def _form_again(
    values: dict[str, str], errors: dict[str, str], status: int, notice: str | None = None
) -> tuple[str, int]:
    return render_template("predict.html", values=values, errors=errors, notice=notice), status


@bp.post("/predict")
def predict() -> str | tuple[str, int]:
    PREDICTION_REQUESTS.inc()
    ctx = context.current()
    values, record, errors = house_record(request.form)
    if record is None:
        return _form_again(values, errors, 422, "Some answers need a second look: see the messages below.")
    try:
        prediction, event_id = actions.predict(ctx, record, via_outbox=True)
    except InputRejected as exc:
        return _form_again(values, exc.fields, 422, "The price service did not accept these answers.")
    except ServiceUnavailable as exc:
        ERROR_COUNT.inc()
        log.warning("price service unavailable", extra={"reason": exc.reason, "detail": exc.detail})
        notice = messages.NO_MODEL if exc.status == 503 else messages.PRICE_UNAVAILABLE
        return _form_again(values, {}, 503, notice)
    carried = CorrectionContext(
        record, prediction.result, event_id, prediction.model, idempotency_key=str(uuid.uuid4())
    )
    return render_template(
        "result.html",
        record=record,
        prediction=prediction,
        token=ctx.tokens.sign(carried),
        recorded=event_id is not None,
        price_value="",
        errors={},
        notice=None,
    )


@bp.post("/correct_prediction")
def correct_prediction() -> str | tuple[str, int]:
    CORRECTION_REQUESTS.inc()
    ctx = context.current()
    token = request.form.get("correction_token", "")
    try:
        carried = ctx.tokens.load(token)
    except TokenInvalid as exc:
        message = f"This correction form cannot be used: {exc}. Please price the house again and correct that result."
        return render_template("error.html", title="Correction not accepted", message=message, code=400), 400
    typed = request.form.get("corrected_price", "")
    value, error = parse_price(typed)

    def result_again(status: int, errors: dict[str, str], notice: str | None) -> tuple[str, int]:
        prediction = Prediction(result=carried.predicted_price or 0.0, model=carried.model or {})
        page = render_template(
            "result.html",
            record=carried.record,
            prediction=prediction,
            token=token,
            recorded=carried.prediction_event_id is not None,
            price_value=typed[:40],
            errors=errors,
            notice=notice,
        )
        return page, status

    if value is None:
        return result_again(422, {"corrected_price": f"The real price {error}."}, None)
    try:
        event_id = actions.correct(ctx, carried, value)
    except BusUnavailable:
        return result_again(503, {}, messages.CORRECTION_NOT_SAVED)
    return render_template("corrected.html", carried=carried, corrected_price=value, event_id=event_id)
