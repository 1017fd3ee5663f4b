"""Read-only pages: the history of predictions and corrections (from dbapp), and the models: the champion (from
mlapp) and every family's versions with their holdout and live MAE (the registry through mlapp, joined with
dbapp's live quality: `webapp.model_catalog`)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, render_template, request

from webapp import context, messages, model_catalog
from webapp.clients import InputRejected, ServiceUnavailable
from webapp.context import WebappContext
from webapp.mae_chart import mae_chart
from webapp.metrics import ERROR_COUNT

log = logging.getLogger(__name__)
bp = Blueprint("browse", __name__)

TABS = ("predictions", "corrections")

# /model-info keys shown in their own places; any other simple value is listed under "More details".
KNOWN_MODEL_KEYS = frozenset(
    {
        "name", "version", "family", "dataset_version", "holdout_mae", "holdout_rmse", "holdout_r2", "holdout_rows",
        "promotion_reason", "compared_with_version", "defeated", "last_check",
    }
)  # fmt: skip
METRICS = (
    ("holdout_mae", "Mean absolute error", "dollars"),
    ("holdout_rmse", "Root mean squared error", "dollars"),
    ("holdout_r2", "R\u00b2", "number"),
    ("holdout_rows", "Holdout rows", "number"),
)


@bp.get("/show_predictions")
def show_predictions() -> tuple[str, int]:
    ctx = context.current()
    tab = request.args.get("tab", TABS[0])
    if tab not in TABS:
        tab = TABS[0]
    after = (request.args.get("after") or "").strip() or None
    settings = ctx.config.settings
    collection = settings.collection_predictions if tab == "predictions" else settings.collection_corrections
    page, notice, status = None, None, 200
    try:
        page = ctx.dbapp.newest(collection, ctx.config.history_page_size, after)
    except InputRejected:
        notice, status = "That page of the history does not exist. Start again from the newest entries.", 400
    except ServiceUnavailable as exc:
        ERROR_COUNT.inc()
        log.warning("history unavailable", extra={"reason": exc.reason, "detail": exc.detail})
        notice, status = messages.HISTORY_UNAVAILABLE, 503
    return render_template("history.html", tab=tab, tabs=TABS, page=page, after=after, notice=notice), status


def _extra_details(info: dict[str, Any]) -> list[tuple[str, Any]]:
    simple = (str, int, float, bool)
    return [
        (key.replace("_", " "), value)
        for key, value in info.items()
        if key not in KNOWN_MODEL_KEYS and isinstance(value, simple) and value != ""
    ]


def _defeated(info: dict[str, Any]) -> list[dict[str, Any]]:
    rows = info.get("defeated")
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _unavailable(what: str, exc: ServiceUnavailable) -> None:
    ERROR_COUNT.inc()
    log.warning(what, extra={"service": exc.service, "reason": exc.reason, "detail": exc.detail})


def _versions(ctx: WebappContext) -> dict[str, Any]:
    """The versions part of the page: every family's versions, the chart, and what could not be read."""
    page: dict[str, Any] = {"families": [], "chart": None, "versions_notice": None, "live_notice": None}
    try:
        registry = ctx.mlapp.model_versions()
    except ServiceUnavailable as exc:
        _unavailable("model versions unavailable", exc)
        return {**page, "versions_notice": messages.VERSIONS_UNAVAILABLE}
    live = None
    try:
        live = ctx.dbapp.live_quality()
    except ServiceUnavailable as exc:
        _unavailable("live quality unavailable", exc)
        page["live_notice"] = messages.LIVE_QUALITY_UNAVAILABLE
    versions = model_catalog.join(registry, live)
    return {**page, "families": model_catalog.by_family(versions), "chart": mae_chart(versions)}


@bp.get("/model")
def model() -> str | tuple[str, int]:
    ctx = context.current()
    versions = _versions(ctx)
    try:
        info = ctx.mlapp.model_info()
    except ServiceUnavailable as exc:
        _unavailable("model info unavailable", exc)
        notice = messages.NO_MODEL_INFO if exc.status == 503 else messages.MODEL_UNAVAILABLE
        return render_template("model.html", info=None, notice=notice, **versions), 503
    metrics = [(label, info[key], kind) for key, label, kind in METRICS if info.get(key) is not None]
    check = info.get("last_check") if isinstance(info.get("last_check"), dict) else None
    return render_template(
        "model.html",
        info=info,
        metrics=metrics,
        defeated=_defeated(info),
        extra=_extra_details(info),
        check=check,
        notice=None,
        **versions,
    )
