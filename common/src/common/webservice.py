"""Flask pieces every HTTP service of the platform needs: request ids, one JSON access-log line per request,
and JSON errors (never an HTML page).

The request id comes from the caller's `X-Request-ID` header (so a request can be followed from webapp into
mlapp or dbapp) or is generated; it is echoed in the response header and added to every log line emitted while
the request is handled. Only the services import this module (they depend on Flask; the jobs do not).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/health", "/metrics"})  # probes and scrapes: logged at DEBUG


def request_id() -> str | None:
    """The current request's id, or None outside a request."""
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every record logged while a request is handled (ours, libraries')."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            rid = request_id()
            if rid:
                record.request_id = rid
        return True


def install_request_log(app: Flask, service: str) -> None:
    """Request ids and access lines for `app`; call after `common.jsonlog.configure_logging`."""
    access = logging.getLogger(f"{service}.access")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())

    @app.before_request
    def _start() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        quiet = request.path in QUIET_PATHS and response.status_code < 500
        access.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed_ms, 3),
                "pid": os.getpid(),
            },
        )
        return response


def install_json_errors(app: Flask) -> None:
    """HTTP errors (404, 405, 413...) as `{"error": ...}`; anything unexpected as a logged 500 with the request id.

    Services register handlers for their own exceptions (e.g. input errors answered with 422 and `fields`)."""
    log = logging.getLogger(f"{app.name}.errors")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"request_id": request_id()})
        return jsonify(error="internal server error", request_id=request_id()), 500
