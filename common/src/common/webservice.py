"""Flask pieces every HTTP service of the platform needs: request ids, one JSON access-log line per request,
and JSON errors (never an HTML page).

The request id comes from the caller's `X-Request-ID` header (so a request can be followed from webapp into
mlapp or dbapp) or is generated; it is echoed in the response header and added to every log line emitted while
the request is handled. Only the services import this module (they depend on Flask; the jobs do not).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from flask import Flask, Response, current_app, g, has_request_context, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from common.api_tokens import VARIABLE as API_TOKENS_VARIABLE
from common.api_tokens import ApiTokens
from common.contracts.base import InputInvalid

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # the header as WSGI names it
REQUEST_ID_KEY = "platform.request_id"  # the WSGI environ key holding the current request's id
WSGI_PATH, WSGI_METHOD = "PATH_INFO", "REQUEST_METHOD"  # keys of the WSGI environ (not environment variables)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/health", "/metrics"})  # probes and scrapes: logged at DEBUG
# A run of 19 digits may be an integer outside 64 bits (2**63 has 19), which orjson rounds to a float. Found by
# mapping every digit to "0" and all else to a space, then a substring search: 0.25 ms on a 1,000-house batch, where
# the regular expression \d{19} took 3.5 ms.
_DIGITS_AS_ZEROS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGIT_RUN = b"0" * 19
MAX_JSON_DEPTH = 32  # no payload of the platform nests deeper than 4; deeper is an attack on the parser


def request_id() -> str | None:
    """The current request's id, or None outside a request."""
    return request.environ.get(REQUEST_ID_KEY) if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every record logged while a request is handled (ours, libraries')."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            rid = request_id()
            if rid:
                record.request_id = rid
        return True


def keep_answer_key_order(app: Flask) -> None:
    """JSON answers keep the order the models declare their fields in (Flask sorts keys by default)."""
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False


SLOW_REQUEST_MS = 100.0  # a request at least this slow is always in the access log


def install_request_log(app: Flask, service: str, sample: float = 1.0) -> None:
    """Request ids and access lines for `app`; call after `common.jsonlog.configure_logging`.

    `sample` (ACCESS_LOG_SAMPLE) is the share of fast, successful requests that get an access line: a line costs
    ~50 us of CPU, more than mlapp's model, validation and features for a prediction. Every request answered 400
    or above and every request slower than `SLOW_REQUEST_MS` still gets one, and the metrics count every request."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
    app.wsgi_app = RequestLog(app.wsgi_app, logging.getLogger(f"{service}.access"), sample)  # type: ignore[method-assign]


class RequestLog:
    """WSGI middleware around the Flask app: the request id (the caller's `X-Request-ID`, else a new one) goes into
    the environ (`request_id()`) and the answer's headers, and one access line per request is logged.

    Middleware, not `before_request`/`after_request` hooks: it reads the WSGI environ directly instead of through
    Flask's context-local proxies, and Flask calls no hooks for it (the hooks were ~10% of mlapp's in-process
    cost of a prediction under cProfile)."""

    def __init__(self, app: WSGIApplication, access: logging.Logger, sample: float) -> None:
        self.app, self.access, self.sample = app, access, sample

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        given = environ.get(REQUEST_ID_ENVIRON, "")
        rid = environ[REQUEST_ID_KEY] = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        started = time.perf_counter()
        answered: list[str] = []

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.append(status)
            return start_response(status, [*headers, (REQUEST_ID_HEADER, rid)], exc_info)

        body = self.app(environ, start_with_id)
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = int(answered[-1][:3]) if answered else 500
        if status < 400 and elapsed_ms < SLOW_REQUEST_MS and self.sample < 1.0 and random.random() >= self.sample:
            return body
        path = environ.get(WSGI_PATH, "").encode("latin-1", "replace").decode("utf-8", "replace")  # WSGI's latin-1 form
        method = environ.get(WSGI_METHOD, "")
        quiet = path in QUIET_PATHS and status < 500
        extra = {"request_id": rid, "method": method, "path": path, "status": status,
                 "duration_ms": round(elapsed_ms, 3), "pid": os.getpid()}  # fmt: skip
        self.access.log(logging.DEBUG if quiet else logging.INFO, "%s %s %s", method, path, status, extra=extra)
        return body


class BodyInvalid(BadRequest):
    """The request body is not a JSON document this platform accepts (a 400 whose message names the problem)."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def json_body() -> Any:
    """The request body parsed as strict JSON, whatever its Content-Type says.

    Strict: NaN and Infinity are refused, and so is nesting deeper than `MAX_JSON_DEPTH` (checked without
    recursion, after a cheap count shows it is possible at all). The body was capped before it was read (see
    `common.openapi`), so a huge body is a 413 here, never parsed.

    orjson parses (a 1,000-house batch: 0.9 ms against 2.7 ms for the standard library) unless the body holds a
    run of 19 digits (`_LONG_DIGIT_RUN`); that body, and every body orjson refuses (bad JSON, lone surrogates,
    other encodings), goes to the standard library, which then decides and words the error.
    """
    data = request.get_data(cache=True)
    if not data.strip():
        raise BodyInvalid("the request body is empty; send a JSON document (Content-Type: application/json)")
    long_number = _LONG_DIGIT_RUN in data.translate(_DIGITS_AS_ZEROS)
    document = _strict_loads(data) if long_number else _fast_loads(data)
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _depth(document) > MAX_JSON_DEPTH:
        raise BodyInvalid(f"the JSON document is nested more than {MAX_JSON_DEPTH} levels deep")
    return document


def _fast_loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _strict_loads(data)


def _strict_loads(data: bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_no_constants)
    except RecursionError:
        raise BodyInvalid(f"the JSON document is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the constants above, over-long integers
        raise BodyInvalid(f"the request body is not valid JSON: {str(exc)[:200]}") from None


def json_response(payload: Any, status: int = 200) -> Response:
    """What `jsonify(payload)` answers (compact, keys sorted, a final newline), serialised by orjson: 0.02 ms for
    a 1,000-price batch answer against 0.3 ms. For plain payloads of str, int, float, bool, None, lists and dicts."""
    body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    return current_app.response_class(body, status, mimetype="application/json")


def _depth(document: Any) -> int:
    """Levels of nesting, counted up to one past `MAX_JSON_DEPTH`. Parsed JSON holds exact dicts and lists, so
    `type() is` (3x faster than isinstance on a 1,000-house batch) sees every container."""
    deepest, level = 0, [document] if type(document) is dict or type(document) is list else []
    while level and deepest <= MAX_JSON_DEPTH:
        deepest += 1
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
    return deepest


def too_large_message() -> str:
    limit = request.max_content_length
    return f"the request body is too large: this route accepts at most {limit:,} bytes" if limit else "too large"


def input_error_answer(exc: InputInvalid) -> tuple[Response, int]:
    """The one answer to bad input, in every service: its status (422, or 413 for an oversized document) and
    `{"error", "fields"}`, where `fields` names each bad field (`InputInvalid.answer`)."""
    return jsonify(exc.answer()), exc.status


def install_json_errors(app: Flask) -> None:
    """HTTP errors (404, 405, 413...) as `{"error": ...}`; anything unexpected as a logged 500 with the request id.

    Services register handlers for their own exceptions (e.g. input errors answered with 422 and `fields`)."""
    log = logging.getLogger(f"{app.name}.errors")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        return jsonify(error=too_large_message()), 413

    app.register_error_handler(InputInvalid, input_error_answer)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error=exc.description or exc.name), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error", extra={"request_id": request_id()})
        return jsonify(error="internal server error", request_id=request_id()), 500


def install_token_check(app: Flask, tokens: ApiTokens, endpoints: set[str]) -> None:
    """Refuse requests to `endpoints` (Flask endpoint names) without a token listed in `API_TOKENS`: 401 with
    `WWW-Authenticate: Bearer`, before the body is read. `api_client()` then names the caller. Nothing is checked
    when no tokens are configured."""

    if not tokens.required:
        return  # open routes: `api_client()` answers "" without a hook on every request

    @app.before_request
    def _check_token() -> Response | None:
        g.api_client = ""
        if request.endpoint not in endpoints:
            return None
        client = tokens.client(request.headers.get("Authorization"))
        if client is None:
            response = jsonify(
                error=f"this route needs an `Authorization: Bearer <token>` header with a token {API_TOKENS_VARIABLE} "
                "accepts"
            )
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        g.api_client = client
        return None


def api_client() -> str:
    """The name of the API client that made this request ("" when the route is open)."""
    return str(g.get("api_client", "")) if has_request_context() else ""


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def install_read_only_port(app: Flask, port: int | None) -> None:
    """Refuse every write (403) that arrives on the listener bound to `port` (gunicorn's `READ_ONLY_PORT`).

    The port is read from the socket the request came in on, not from the Host header a client controls. So a
    NetworkPolicy that lets a reader (Prometheus, a job) reach only this port makes the service read-only for it."""
    if port is None:
        return

    @app.before_request
    def _refuse_writes_on_read_only_port() -> Response | None:
        if request.method in READ_METHODS:
            return None
        sock = request.environ.get("gunicorn.socket")
        if sock is None or sock.getsockname()[1] != port:
            return None
        response = jsonify(error=f"port {port} only serves reads ({', '.join(sorted(READ_METHODS))}); write on PORT")
        response.status_code = 403
        return response
