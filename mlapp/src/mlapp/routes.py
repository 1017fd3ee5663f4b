"""The HTTP contract of mlapp: `/predict`, `/predict/batch`, `/model-info`, probes, `/metrics`; each route's
payloads are `common.contracts.predict` models, documented in `/openapi.json` (see `mlapp.api_doc`).

No route ever answers with a price that no model computed: without a model it is 503, an input error is 422
naming the fields, and a model that returns no usable number is a 500.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from common.contracts import predict as c
from common.contracts.answers import Alive, ErrorBody
from common.contracts.base import InputInvalid
from common.openapi import Answer, write_answers
from common.schema import RecordBatch, validate_record, validate_records
from common.webservice import BodyInvalid, json_body, json_response, request_id
from mlapp import context
from mlapp import metrics as m
from mlapp.api_doc import API, NO_MODEL

log = logging.getLogger(__name__)
bp = Blueprint("mlapp", __name__)

MAX_REPORTED_RECORDS = 100  # a 422 for a batch names at most this many bad records
BATCH_BODY_LIMIT = 6 * 1024 * 1024  # 10,000 records of about 500 bytes each, with room to spare


class BadBody(ValueError):
    """A batch the route will not price for a reason other than bad fields (too many records: 413; a model that
    cannot price some: 500); answered with `status` and the message as `error`."""

    def __init__(self, message: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.status = status
        self.extra = extra


class RecordsInvalid(InputInvalid):
    """Records of a batch broke field rules: answered, as `c.BatchInvalid`, by record index instead of `fields`."""

    def __init__(self, message: str, records: dict[str, dict[str, str]], invalid_count: int):
        super().__init__({})
        self.message, self.records, self.invalid_count = message, records, invalid_count

    def answer(self) -> dict[str, Any]:
        return {"error": self.message, "records": self.records, "invalid_count": self.invalid_count}


def _unavailable() -> tuple[Response, int]:
    return jsonify(error=context.current().holder.unavailable_reason()), 503


def _first(by_index: dict[str, Any]) -> dict[str, Any]:
    return dict(list(by_index.items())[:MAX_REPORTED_RECORDS])


def _sane(price: float) -> bool:
    return math.isfinite(price) and price > 0


@bp.post("/predict")
@API.operation(
    "POST",
    "/predict",
    summary="Price one house",
    body=c.PredictBody,
    answers=write_answers(
        {200: Answer(c.Prediction, "The price and the model that computed it")},
        invalid=Answer(ErrorBody, "Invalid house record: `fields` names each bad field"),
        unavailable=NO_MODEL,
    ),
)
def predict() -> Response | tuple[Response, int]:
    with m.ACTIVE_REQUESTS.track_inprogress():
        started = time.perf_counter()
        holder = context.current().holder
        model = holder.current  # read once: a swap during this request does not affect it
        experiment = model.experiment if model else m.NO_EXPERIMENT
        try:
            record = validate_record(json_body())
        except (InputInvalid, BadBody, BodyInvalid):
            m.PREDICTION_REQUESTS.labels(m.RequestStatus.INVALID, experiment).inc()
            m.PREDICTION_ERRORS.labels(m.ErrorType.INVALID, experiment).inc()
            raise
        if model is None:
            m.PREDICTION_REQUESTS.labels(m.RequestStatus.UNAVAILABLE, experiment).inc()
            m.PREDICTION_ERRORS.labels(m.ErrorType.NO_MODEL, experiment).inc()
            return _unavailable()
        try:
            price = model.predict_one(record)
            if not _sane(price):
                raise ValueError(f"the model returned {price!r}, not a positive price")
        except Exception as exc:
            m.PREDICTION_REQUESTS.labels(m.RequestStatus.ERROR, experiment).inc()
            m.PREDICTION_ERRORS.labels(m.ErrorType.PREDICTION, experiment).inc()
            log.exception("prediction failed", extra={"model_version": model.version})
            return jsonify(error=f"the model could not price this house: {exc}", request_id=request_id()), 500
        holder.drift.record_one(model, record)
        served, latency = m.prediction_served(experiment)
        served.inc()
        latency.observe(time.perf_counter() - started)
        m.PREDICTED_PRICE.observe(price)
        m.LAST_PREDICTION_TIME.set_to_current_time()
        # Built by hand from the pre-serialised summary: jsonify was ~15 us of a ~150 us handler. A finite float's
        # repr is its JSON text.
        return current_app.response_class(
            f'{{"result":{price!r},"model":{model.summary_json}}}\n', mimetype="application/json"
        )


@bp.post("/predict/batch")
@API.operation(
    "POST",
    "/predict/batch",
    summary="Price many houses",
    body=c.BatchBody,
    body_limit=BATCH_BODY_LIMIT,
    answers=write_answers(
        {200: Answer(c.BatchPrediction, "One price per record, in order")},
        invalid=Answer(c.BatchInvalid, "Invalid records, by index; nothing was predicted"),
        unavailable=NO_MODEL,
    ),
)
def predict_batch() -> Response | tuple[Response, int]:
    with m.ACTIVE_REQUESTS.track_inprogress():
        started = time.perf_counter()
        holder = context.current().holder
        model = holder.current
        experiment = model.experiment if model else m.NO_EXPERIMENT
        try:
            batch = _batch_records()
        except (InputInvalid, BadBody, BodyInvalid):
            m.BATCH_REQUESTS.labels(m.RequestStatus.INVALID, experiment).inc()
            raise
        if model is None:
            m.BATCH_REQUESTS.labels(m.RequestStatus.UNAVAILABLE, experiment).inc()
            return _unavailable()
        try:
            prices = model.predict_columns(batch.columns) if batch.size else []
            bad = {
                str(i): f"the model returned {p!r}, not a positive price" for i, p in enumerate(prices) if not _sane(p)
            }
            if bad:
                raise BadBody("the model could not price some of these houses", 500, records=_first(bad))
        except Exception as exc:
            m.BATCH_REQUESTS.labels(m.RequestStatus.ERROR, experiment).inc()
            log.exception("batch prediction failed", extra={"model_version": model.version})
            if isinstance(exc, BadBody):
                raise
            return jsonify(error=f"the model could not price this batch: {exc}", request_id=request_id()), 500
        holder.drift.record_columns(model, batch.columns, batch.size)
        m.BATCH_REQUESTS.labels(m.RequestStatus.SUCCESS, experiment).inc()
        m.BATCH_LATENCY.labels(experiment).observe(time.perf_counter() - started)
        m.BATCH_RECORDS.observe(batch.size)
        m.LAST_PREDICTION_TIME.set_to_current_time()
        return json_response({"results": prices, "model": model.summary})


def _batch_records() -> RecordBatch:
    """The batch's typed values column by column (see `common.schema.validate_records`); any bad record is a 422."""
    body = json_body()
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise InputInvalid(
            {"records": "must be a list of house records"}, summary='the body must be {"records": [...]}'
        )
    limit = context.current().config.max_batch
    if len(records) > limit:
        raise BadBody(f"too many records: at most {limit} per batch (got {len(records)}); split the batch", 413)
    batch = validate_records(records)
    if batch.errors:
        errors = {str(index): fields for index, fields in batch.errors.items()}
        shown = _first(errors)
        more = f" (the first {len(shown)} are listed)" if len(shown) < len(errors) else ""
        raise RecordsInvalid(
            f"{len(errors)} of {len(records)} records are invalid{more}; nothing was predicted", shown, len(errors)
        )
    return batch


@bp.get("/model-info")
@API.operation(
    "GET",
    "/model-info",
    summary="The serving model",
    answers={200: Answer(c.ModelInfo, "The model and its registry facts"), 503: NO_MODEL},
)
def model_info() -> Response | tuple[Response, int]:
    holder = context.current().holder
    model = holder.current
    if model is None:
        return _unavailable()
    check = holder.last_check
    return jsonify(
        {
            **model.info,
            "alias": holder.alias,
            "loaded_at": model.loaded_at,
            "load_seconds": model.load_seconds,
            "compiled_predict": model.compiled is not None,
            "last_check": {"at": check.at, "trigger": check.trigger, "outcome": check.outcome, "detail": check.detail},
        }
    )


@bp.get("/healthz")
@API.operation("GET", "/healthz", summary="Liveness", answers={200: Answer(Alive, "The process answers")})
def healthz() -> Response:
    return jsonify(status="ok")


READINESS = {200: Answer(c.Ready, "A model is loaded"), 503: Answer(c.NotReady, "No model loaded yet")}


@bp.get("/readyz")
@API.operation("GET", "/readyz", summary="Readiness: a model is loaded", answers=READINESS)
def readyz() -> Response | tuple[Response, int]:
    model = context.current().holder.current
    if model is None:
        return jsonify(status="unavailable", error=context.current().holder.unavailable_reason()), 503
    return jsonify(status="ready", model=model.summary)


@bp.get("/health")
@API.operation("GET", "/health", summary="Readiness, at the seed's path", answers=READINESS)
def health() -> Response | tuple[Response, int]:
    """The seed's probe path: the same answer as /readyz."""
    return readyz()


@bp.get("/metrics")
@API.operation(
    "GET",
    "/metrics",
    summary="Prometheus metrics",
    answers={200: Answer(None, "Prometheus text format", "text/plain")},
)
def metrics() -> Response:
    model = context.current().holder.current
    body, content_type = m.render(m.ServingHoldout(model.info if model else None))
    return Response(body, headers={"Content-Type": content_type})


def install(app: Flask) -> None:
    app.register_blueprint(bp)
    API.install(app)

    @app.errorhandler(BadBody)
    def _bad_body(exc: BadBody) -> tuple[Response, int]:
        return jsonify(error=str(exc), **exc.extra), exc.status
