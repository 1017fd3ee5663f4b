"""The HTTP contract of dbapp (DESIGN section 7): `/store`, `/retrieve/<collection>`, `/corrections`, probes
and `/metrics`."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from common.metrics import render_metrics
from dbapp import context
from dbapp.documents import DocumentInvalid, Kind, parse_store_data
from dbapp.metrics import (
    DOCUMENTS_INSERTED,
    RETRIEVE_LATENCY,
    RETRIEVE_REQUESTS,
    STORE_LATENCY,
    STORE_REQUESTS,
)
from dbapp.pagination import PageRequest, correction_item, newest_first_page, oldest_first_page
from dbapp.storage import StorageUnavailable

bp = Blueprint("dbapp", __name__)


@bp.post("/store")
def store():
    STORE_REQUESTS.inc()
    with STORE_LATENCY.time():
        ctx = context.current()
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise DocumentInvalid({"body": 'must be a JSON object: {"table": "...", "data": {...}}'})
        kinds = ctx.config.kinds
        table = body.get("table")
        if not isinstance(table, str) or table not in kinds:
            expected = ", ".join(sorted(kinds))
            raise DocumentInvalid({"table": f"unknown table {table!r}; expected one of: {expected}"})
        event_id, data = parse_store_data(kinds[table], body.get("data"))
        result = ctx.store.put(table, event_id, data)
        item = result.document.to_item()
        if result.created:
            DOCUMENTS_INSERTED.inc()
            return jsonify(status="stored", event_id=event_id, cursor=item["cursor"], document=item), 201
        if result.document.data != data:
            return jsonify(
                error=f"event_id {event_id!r} is already stored in {table} with different data",
                fields={"event_id": "is already used by another document"},
                document=item,
            ), 409
        return jsonify(status="already_stored", event_id=event_id, cursor=item["cursor"], document=item), 200


@bp.get("/retrieve/<collection>")
def retrieve(collection: str):
    RETRIEVE_REQUESTS.inc()
    with RETRIEVE_LATENCY.time():
        ctx = context.current()
        if collection not in ctx.config.kinds:
            abort(404, description=f"unknown collection {collection!r}; known: {', '.join(sorted(ctx.config.kinds))}")
        page = PageRequest.from_args(request.args)
        found = ctx.store.newest(collection, page.limit + 1, before=page.after)
        return jsonify(newest_first_page(found, page.limit))


@bp.get("/corrections")
def corrections():
    RETRIEVE_REQUESTS.inc()
    with RETRIEVE_LATENCY.time():
        ctx = context.current()
        page = PageRequest.from_args(request.args)
        found = ctx.store.oldest_after(ctx.config.collection_for(Kind.CORRECTION), page.after, page.limit + 1)
        return jsonify(oldest_first_page(found, page, correction_item))


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    store = context.current().store
    try:
        store.ping()
    except StorageUnavailable as exc:
        return jsonify(status="unavailable", backend=store.backend, error=f"database unreachable: {exc}"), 503
    return jsonify(status="ready", backend=store.backend)


@bp.get("/metrics")
def metrics():
    body, content_type = render_metrics()
    return Response(body, headers={"Content-Type": content_type})
