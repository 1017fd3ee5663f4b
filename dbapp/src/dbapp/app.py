"""The Flask app factory: `gunicorn -c python:common.gunicorn_conf 'dbapp.app:create_app()'`."""

from __future__ import annotations

from flask import Flask

from common.jsonlog import configure_logging
from common.settings import Settings
from common.webservice import (
    install_json_errors,
    install_read_only_port,
    install_request_log,
    install_token_check,
    keep_answer_key_order,
)
from dbapp import errors
from dbapp.api_doc import API
from dbapp.config import SERVICE, DbappConfig
from dbapp.context import EXTENSION, DbappContext
from dbapp.quality import LiveQualityCache
from dbapp.routes import bp
from dbapp.storage import DocumentStore, open_store

MAX_BODY_BYTES = 64 * 1024  # a stored document is at most 16 KiB (documents.MAX_DOCUMENT_BYTES)


def create_app(settings: Settings | None = None, store: DocumentStore | None = None) -> Flask:
    """Build the app. Without arguments everything comes from the environment (read once, here); tests pass
    their own `settings` and/or `store`."""
    config = DbappConfig.from_env(settings=settings)
    log = configure_logging(SERVICE)
    if store is None:
        store = open_store(config.settings, mongo_settle_seconds=config.mongo_settle_seconds)

    app = Flask(SERVICE)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    keep_answer_key_order(app)
    settings = config.settings
    quality = LiveQualityCache(
        store, settings.collection_predictions, settings.collection_corrections, config.quality_cache_seconds
    )
    app.extensions[EXTENSION] = DbappContext(config=config, store=store, quality=quality)
    install_request_log(app, SERVICE, config.settings.access_log_sample)
    install_json_errors(app)
    install_token_check(app, config.api_tokens, {"dbapp.store"})
    install_read_only_port(app, config.read_only_port)
    errors.install(app)
    app.register_blueprint(bp)
    API.install(app)
    log.info("dbapp ready to serve", extra={"backend": store.backend, "store_needs_token": config.api_tokens.required})
    return app
