"""Errors as people and programs expect them: an HTML page for the pages, a JSON object under `/api/` and for
the probes. Never a stack trace; unexpected errors are logged with the request id, which the page shows."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from common.webservice import request_id, too_large_message
from webapp.metrics import ERROR_COUNT
from webapp.views import uploads

log = logging.getLogger(__name__)

JSON_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
TITLES = {
    400: "This request could not be handled",
    404: "Page not found",
    405: "Not allowed here",
    413: "Too large",
    500: "Something went wrong on our side",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in JSON_PATHS


def _page(code: int, message: str, title: str | None = None) -> tuple[str, int]:
    page = render_template("error.html", code=code, title=title or TITLES.get(code, "Error"), message=message)
    return page, code


def install(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[Response | str, int]:
        log.info("form refused: CSRF check failed", extra={"reason": exc.description})
        if wants_json():
            return jsonify(error=f"CSRF check failed: {exc.description}"), 400
        return _page(
            400,
            "This form has expired or did not come from this site, so it was not sent. "
            "Go back, reload the page and submit it again.",
            "Form expired",
        )

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[Response | str, int]:
        if request.path == "/upload":
            return uploads.too_large()
        if wants_json():
            return jsonify(error=too_large_message()), 413
        return _page(413, "What you sent is too large.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response | str, int]:
        code = exc.code or 500
        if wants_json():
            return jsonify(error=exc.description or exc.name), code
        message = {
            404: "There is nothing at this address. Use the menu above to find your way.",
            405: "This address does not accept that kind of request.",
        }.get(code, exc.description or exc.name)
        return _page(code, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response | str, int]:
        ERROR_COUNT.inc()
        log.exception("unhandled error", extra={"request_id": request_id()})
        if wants_json():
            return jsonify(error="internal server error", request_id=request_id()), 500
        return _page(
            500,
            f"We could not finish this request. Please try again; if it keeps happening, "
            f"quote reference {request_id()}.",
        )
