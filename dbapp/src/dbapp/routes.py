"""The HTTP contract of dbapp: `/store`, `/retrieve/<collection>`, `/corrections`, `/quality`, probes
and `/metrics`. The payloads are the models of `common.contracts.store`; the seed system's webapp is a client
too (its body for `/store`, the seed's keys in the answers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from common.contracts import store as c
from common.contracts.answers import Alive
from common.contracts.quality import LiveQualityAnswer
from common.metrics import collected_now, render_metrics
from common.openapi import Answer
from common.webservice import json_body
from dbapp import context
from dbapp.api_doc import API, BAD_PAGE, COLLECTION, DOWN, READINESS, STORE_ANSWERS
from dbapp.documents import Kind
from dbapp.metrics import (
    DOCUMENTS_INSERTED,
    RETRIEVE_LATENCY,
    RETRIEVE_REQUESTS,
    STORE_LATENCY,
    STORE_REQUESTS,
)
from dbapp.pagination import PageRequest, correction_item, newest_first_page, oldest_first_page
from dbapp.quality import LiveQualityCollector
from dbapp.storage import PutResult, StorageUnavailable
from dbapp.store_body import StoreRequest, store_request

bp = Blueprint("dbapp", __name__)


@bp.post("/store")
@API.operation(
    "POST", "/store", summary="Store a prediction or a correction", body=c.StoreBody, answers=STORE_ANSWERS, token=True
)
def store() -> tuple[Response, int]:
    STORE_REQUESTS.inc()
    with STORE_LATENCY.time():
        ctx = context.current()
        wanted = store_request(json_body(), ctx.config.kinds)
        result = ctx.store.put(wanted.table, wanted.event_id, wanted.data)
        return _store_answer(wanted, result)


def _store_answer(wanted: StoreRequest, result: PutResult) -> tuple[Response, int]:
    """201 stored now; 200 stored before (the same data, or the same house for a seed correction); 409 when the
    event_id is taken by different data."""
    item = result.document.to_item()
    if result.created:
        DOCUMENTS_INSERTED.inc()
        return jsonify(_stored(wanted.table, item, created=True)), 201
    if result.document.data != wanted.data and not wanted.derived_id:
        return jsonify(
            error=f"event_id {wanted.event_id!r} is already stored in {wanted.table} with different data",
            fields={"event_id": "is already used by another document"},
            document=item,
        ), 409
    return jsonify(_stored(wanted.table, item, created=False)), 200


def _stored(table: str, item: dict[str, Any], *, created: bool) -> dict[str, Any]:
    """The `StoreAnswer`: the seed's keys (`success`, `message`, `id`) and ours."""
    return {
        "success": created,
        "message": f"Data stored in {table}" if created else f"Record already exists in {table}",
        "id": item["event_id"],
        "status": "stored" if created else "already_stored",
        "event_id": item["event_id"],
        "cursor": item["cursor"],
        "document": item,
    }


@bp.get("/retrieve/<collection>")
@API.operation(
    "GET",
    "/retrieve/{collection}",
    summary="One page of a collection, newest first, flat as the seed's history page reads it",
    path_params={"collection": COLLECTION},
    query=c.PageQuery,
    answers={
        200: Answer(c.RetrieveAnswer, "One page"),
        404: Answer(c.ErrorAnswer, "No such collection"),
        422: BAD_PAGE,
        503: DOWN,
    },
)
def retrieve(collection: str) -> Response:
    RETRIEVE_REQUESTS.inc()
    with RETRIEVE_LATENCY.time():
        ctx = context.current()
        if collection not in ctx.config.kinds:
            abort(404, description=f"unknown collection {collection!r}; known: {', '.join(sorted(ctx.config.kinds))}")
        page = PageRequest.from_args(request.args)
        found = ctx.store.newest(collection, page.limit + 1, before=page.after)
        return jsonify(newest_first_page(collection, ctx.config.kinds[collection], found, page.limit))


@bp.get("/corrections")
@API.operation(
    "GET",
    "/corrections",
    summary="Corrections oldest first, after a cursor (the data job's feed)",
    query=c.PageQuery,
    answers={200: Answer(c.CorrectionsAnswer, "One page"), 422: BAD_PAGE, 503: DOWN},
)
def corrections() -> Response:
    RETRIEVE_REQUESTS.inc()
    with RETRIEVE_LATENCY.time():
        ctx = context.current()
        page = PageRequest.from_args(request.args)
        found = ctx.store.oldest_after(ctx.config.collection_for(Kind.CORRECTION), page.after, page.limit + 1)
        return jsonify(oldest_first_page(found, page, correction_item))


@bp.get("/quality")
@API.operation(
    "GET",
    "/quality",
    summary="Live MAE of each model version over the corrections of its predictions",
    answers={200: Answer(LiveQualityAnswer, "Every (family, version) with at least one usable correction"), 503: DOWN},
)
def quality() -> Response:
    models = context.current().quality.current()
    return jsonify(models=[model.model_dump() for model in models])


@bp.get("/healthz")
@API.operation("GET", "/healthz", summary="Liveness", answers={200: Answer(Alive, "The process answers")})
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
@bp.get("/health")
@API.operation("GET", "/readyz", summary="Readiness: the database answers", answers=READINESS)
@API.operation("GET", "/health", summary="Readiness, at the seed's path", answers=READINESS)
def readyz() -> Response | tuple[Response, int]:
    """Ready when the database answers. `/health` is the seed system's name for the same probe."""
    store = context.current().store
    try:
        store.ping()
    except StorageUnavailable as exc:
        return jsonify(status="unavailable", backend=store.backend, error=f"database unreachable: {exc}"), 503
    return jsonify(status="ready", backend=store.backend)


@bp.get("/metrics")
@API.operation(
    "GET", "/metrics", summary="Prometheus metrics", answers={200: Answer(None, "Prometheus text", "text/plain")}
)
def metrics() -> Response:
    """The multiprocess metrics of every worker, then the live-quality gauges computed now (`dbapp.quality`)."""
    body, content_type = render_metrics()
    body += collected_now(LiveQualityCollector(context.current().quality))
    return Response(body, headers={"Content-Type": content_type})
