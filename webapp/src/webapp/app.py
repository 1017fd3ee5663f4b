"""The Flask app factory: `gunicorn -c python:common.gunicorn_conf 'webapp.app:create_app()'` (port 8080).

Each gunicorn worker builds its own app (no `--preload`): the Pub/Sub client must be created after the fork.
"""

from __future__ import annotations

import atexit
from functools import partial

import requests
from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from common.blobstore import BlobStore, open_store
from common.bus import Publisher
from common.jsonlog import configure_logging
from common.settings import Settings
from common.webservice import install_request_log, install_token_check, keep_answer_key_order
from webapp import errors, formatting
from webapp.clients import DbappClient, MlappClient, make_session
from webapp.config import SERVICE, WebappConfig
from webapp.context import EXTENSION, WebappContext
from webapp.forms import CorrectionTokens
from webapp.limits import RateLimiter, UploadSlots, retry_after
from webapp.outbox import Outbox
from webapp.publishing import EventBus
from webapp.views import api, browse, ops, predict, uploads

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart headers and the CSRF field around an upload of the maximum size
RATE_LIMITED_FORMS = frozenset({"predict.predict", "predict.correct_prediction", "uploads.upload"})

NAVIGATION = (
    ("predict.home", "Home"),
    ("predict.predict_page", "Predict a price"),
    ("browse.show_predictions", "History"),
    ("browse.model", "Model"),
    ("uploads.upload_form", "Upload data"),
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
    ),
}


def _given(store: BlobStore) -> BlobStore:
    return store


def create_app(
    settings: Settings | None = None,
    *,
    config: WebappConfig | None = None,
    bus: EventBus | None = None,
    session: requests.Session | None = None,
    landing_store: BlobStore | None = None,
) -> Flask:
    """Build the app. Without arguments everything comes from the environment (read once, here); tests pass
    their own `config`/`settings`, and may pass the bus, HTTP session or landing store."""
    log = configure_logging(SERVICE)
    config = config or WebappConfig.from_env(settings=settings)

    app = Flask(SERVICE)
    app.config.update(
        SECRET_KEY=config.secret_key.get_secret_value(),
        MAX_CONTENT_LENGTH=config.max_upload_bytes + FORM_OVERHEAD_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the browser session: a slow form filler is not refused
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    keep_answer_key_order(app)
    http = session or make_session()
    timeout = (config.connect_timeout, config.read_timeout)
    landing = partial(open_store, config.settings.landing_bucket)
    if landing_store is not None:
        landing = partial(_given, landing_store)
    events = bus or Publisher(config.settings.gcp_project)
    app.extensions[EXTENSION] = WebappContext(
        config=config,
        mlapp=MlappClient(config.mlapp_url, http, timeout),
        dbapp=DbappClient(config.dbapp_url, http, timeout),
        bus=events,
        tokens=CorrectionTokens(config.secret_key.get_secret_value()),
        open_landing=landing,
        form_limiter=RateLimiter(config.form_rate_per_minute) if config.form_rate_per_minute else None,
        upload_slots=UploadSlots(config.max_concurrent_uploads),
        outbox=_outbox(config, events),
    )
    if config.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxy_hops)  # type: ignore[method-assign]

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)
    install_request_log(app, SERVICE, config.settings.access_log_sample)
    install_token_check(app, config.api_tokens, {"api.predict", "api.corrections"})
    _install_form_rate_limit(app, app.extensions[EXTENSION].form_limiter)
    errors.install(app)
    formatting.install(app)
    for blueprint in (predict.bp, browse.bp, uploads.bp, api.bp, ops.bp):
        app.register_blueprint(blueprint)
    api.API.install(app)

    @app.context_processor
    def _layout() -> dict[str, object]:
        return {"navigation": NAVIGATION, "max_upload_mb": config.max_upload_mb}

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    log.info(
        "webapp ready to serve",
        extra={
            "mlapp_url": config.mlapp_url,
            "dbapp_url": config.dbapp_url,
            "project": config.settings.gcp_project,
            "landing_bucket": config.settings.landing_bucket,
            "secret_key_source": config.secret_key_source,
        },
    )
    return app


def _outbox(config: WebappConfig, bus: EventBus) -> Outbox | None:
    """The prediction form's outbox and its relay thread (one per worker), drained at a normal exit."""
    if config.outbox_path is None:
        return None
    outbox = Outbox(config.outbox_path, bus, config.publish_timeout)
    outbox.start()
    atexit.register(outbox.close)
    return outbox


def _install_form_rate_limit(app: Flask, limiter: RateLimiter | None) -> None:
    """429 with `Retry-After` for a client posting forms faster than FORM_RATE_LIMIT_PER_MINUTE."""
    if limiter is None:
        return

    @app.before_request
    def _rate_limit_forms() -> tuple[str, int, dict[str, str]] | None:
        if request.method != "POST" or request.endpoint not in RATE_LIMITED_FORMS:
            return None
        wait = limiter.wait_seconds(request.remote_addr or "unknown")
        if wait == 0:
            return None
        message = f"Too many forms sent from your address in a short time. Please wait {retry_after(wait)} s."
        page = render_template("error.html", code=429, title="Please slow down", message=message)
        return page, 429, {"Retry-After": retry_after(wait)}
