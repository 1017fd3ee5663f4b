"""dbapp's own errors as JSON: input errors are 422 with `fields`, an unreachable database is 503.

HTTP errors and unexpected exceptions are handled by `common.webservice.install_json_errors`."""

from __future__ import annotations

from flask import Flask, jsonify

from common.webservice import request_id
from dbapp.documents import DocumentInvalid
from dbapp.pagination import ParameterInvalid
from dbapp.storage import StorageUnavailable


def install(app: Flask) -> None:
    @app.errorhandler(DocumentInvalid)
    @app.errorhandler(ParameterInvalid)
    def _invalid(exc: DocumentInvalid | ParameterInvalid):
        return jsonify(error=f"invalid input: {exc}", fields=exc.fields), 422

    @app.errorhandler(StorageUnavailable)
    def _storage(exc: StorageUnavailable):
        return jsonify(error=f"database unavailable: {exc}", request_id=request_id()), 503
