"""Every error is a JSON object with an `error` message (and `fields` for input errors), never an HTML page."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from dbapp.documents import DocumentInvalid
from dbapp.pagination import ParameterInvalid
from dbapp.requestlog import request_id
from dbapp.storage import StorageUnavailable

log = logging.getLogger(__name__)


def install(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code or 500

    @app.errorhandler(DocumentInvalid)
    @app.errorhandler(ParameterInvalid)
    def _invalid(exc: DocumentInvalid | ParameterInvalid):
        return jsonify(error=f"invalid input: {exc}", fields=exc.fields), 422

    @app.errorhandler(StorageUnavailable)
    def _storage(exc: StorageUnavailable):
        return jsonify(error=f"database unavailable: {exc}", request_id=request_id()), 503

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"request_id": request_id()})
        return jsonify(error="internal server error", request_id=request_id()), 500
