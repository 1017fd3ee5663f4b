"""Probes and metrics: `/healthz` (the process answers), `/readyz` (it can serve; also `/health`, the seed
system's name for it), `/metrics` (Prometheus)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from common.metrics import render_metrics
from webapp import context

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
@bp.get("/health")
def readyz():
    """Ready once the app is built with its event publisher. mlapp and dbapp are reported, not required: pages
    say plainly when one of them is down, and corrections only need the bus."""
    ctx = context.current()
    if ctx.bus is None:
        return jsonify(status="unavailable", error="the event publisher is not set up"), 503
    return jsonify(
        status="ready",
        bus={"project": ctx.config.settings.gcp_project},
        mlapp=ctx.mlapp.probe(),
        dbapp=ctx.dbapp.probe(),
    )


@bp.get("/metrics")
def metrics():
    body, content_type = render_metrics()
    return Response(body, headers={"Content-Type": content_type})
