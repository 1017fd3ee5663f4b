"""The framework's ceiling: Flask under gunicorn answering POST /predict with a constant price, and
POST /predict/batch with one constant price per record.

It reads and parses the JSON body as a plain Flask app does (`request.get_json`), then answers without
validating or predicting anything, so its requests/s is the most a Flask + gunicorn service with mlapp's settings
reaches on this machine without further work. The bench runs it with mlapp's own gunicorn settings
(`mlapp.gunicorn_conf`, same workers, threads and worker class):

    gunicorn -c python:mlapp.gunicorn_conf 'platform_bench.ceiling_app:create_app()'
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

PRICE = 450_000.0
MODEL = {"name": "constant", "version": 0, "family": "constant"}


def create_app() -> Flask:
    app = Flask("ceiling")

    @app.post("/predict")
    def predict() -> Response | tuple[Response, int]:
        if request.get_json(force=True, silent=True) is None:
            return jsonify(error="the request body must be JSON"), 400
        return jsonify(result=PRICE, model=MODEL)

    @app.post("/predict/batch")
    def predict_batch() -> Response | tuple[Response, int]:
        body = request.get_json(force=True, silent=True)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            return jsonify(error='the body must be {"records": [...]}'), 400
        return jsonify(results=[PRICE] * len(records), model=MODEL)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app
