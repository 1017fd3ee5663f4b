"""dbapp's own errors as JSON, each with `error` and, for input, `fields`: a body without a usable table or data
is 400; an unreachable database is 503.

Bad fields (`common.contracts.base.InputInvalid`: documents and query parameters alike, 422, or 413 for a
document over the size limit), HTTP errors and unexpected exceptions are answered by
`common.webservice.install_json_errors`, as in every service."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from common.webservice import request_id
from dbapp.storage import StorageUnavailable
from dbapp.store_body import BodyInvalid


def install(app: Flask) -> None:
    @app.errorhandler(BodyInvalid)
    def _body(exc: BodyInvalid) -> tuple[Response, int]:
        return jsonify(error=str(exc), fields=exc.fields), 400

    @app.errorhandler(StorageUnavailable)
    def _storage(exc: StorageUnavailable) -> tuple[Response, int]:
        return jsonify(error=f"database unavailable: {exc}", request_id=request_id()), 503
