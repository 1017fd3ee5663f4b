"""dbapp's own errors as JSON, each with `error` and, for input, `fields`: a body without a usable table or data
is 400, a document over the size limit 413, other input errors 422; an unreachable database is 503.

HTTP errors and unexpected exceptions are handled by `common.webservice.install_json_errors`."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from common.contracts.base import InputInvalid
from common.webservice import request_id
from dbapp.documents import DocumentTooLarge
from dbapp.storage import StorageUnavailable
from dbapp.store_body import BodyInvalid


def install(app: Flask) -> None:
    @app.errorhandler(InputInvalid)  # documents and query parameters alike
    def _invalid(exc: InputInvalid) -> tuple[Response, int]:
        return jsonify(error=f"invalid input: {exc}", fields=exc.fields), 422

    @app.errorhandler(BodyInvalid)
    def _body(exc: BodyInvalid) -> tuple[Response, int]:
        return jsonify(error=str(exc), fields=exc.fields), 400

    @app.errorhandler(DocumentTooLarge)
    def _too_large(exc: DocumentTooLarge) -> tuple[Response, int]:
        return jsonify(error=f"document too large: {exc}", fields=exc.fields), 413

    @app.errorhandler(StorageUnavailable)
    def _storage(exc: StorageUnavailable) -> tuple[Response, int]:
        return jsonify(error=f"database unavailable: {exc}", request_id=request_id()), 503
