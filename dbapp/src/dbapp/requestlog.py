"""Request ids and one JSON access-log line per request.

The id comes from the caller's `X-Request-ID` header (so a request can be followed from webapp into dbapp) or
is generated; it is echoed in the response header and logged with every line about the request.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

log = logging.getLogger("dbapp.access")

HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: logged at DEBUG


def request_id() -> str | None:
    """The current request's id, or None outside a request."""
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every log record emitted while a request is handled (ours, the
    storage layer's, libraries'), so one grep finds everything about a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            rid = request_id()
            if rid:
                record.request_id = rid
        return True


def install(app: Flask) -> None:
    """Request ids and access lines for `app`; call after `configure_logging` (it tags the root handlers)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())

    @app.before_request
    def _start() -> None:
        given = request.headers.get(HEADER, "")
        g.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers[HEADER] = g.get("request_id", "")
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.log(
            logging.DEBUG if request.path in QUIET_PATHS and response.status_code < 500 else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed_ms, 2),
                "pid": os.getpid(),
            },
        )
        return response
