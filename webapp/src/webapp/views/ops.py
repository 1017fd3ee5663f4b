"""Probes and metrics: `/healthz` (the process answers), `/readyz` (it can serve; also `/health`, the seed
system's name for it), `/metrics` (Prometheus)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from common.metrics import render_metrics
from webapp import context

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
@bp.get("/health")
def readyz() -> Response | tuple[Response, int]:
    """Ready once the app is built with its event publisher: only what this pod itself needs, so a slow mlapp
    or dbapp never takes every webapp pod out of its Service at once (pages say plainly when one is down, and
    corrections only need the bus). `?verbose=1`, as Kubernetes' own `/readyz?verbose`, also reports both."""
    ctx = context.current()
    if ctx.bus is None:
        return jsonify(status="unavailable", error="the event publisher is not set up"), 503
    body: dict[str, object] = {"status": "ready", "bus": {"project": ctx.config.settings.gcp_project}}
    if request.args.get("verbose"):
        body.update(mlapp=ctx.mlapp.probe(), dbapp=ctx.dbapp.probe())
    return jsonify(body)


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, headers={"Content-Type": content_type})
