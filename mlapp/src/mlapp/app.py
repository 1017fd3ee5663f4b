"""The Flask app factory: `gunicorn -c python:common.gunicorn_conf 'mlapp.app:create_app()'` (port 8081 on the
local platform; `-c python:mlapp.gunicorn_conf` adds a worker_exit hook that removes the subscription even when
the worker leaves without running atexit handlers).

Each gunicorn worker builds its own app (do not use `--preload`: the background threads must start in the worker).
"""

from __future__ import annotations

import atexit

from flask import Flask

from common.jsonlog import configure_logging
from common.settings import Settings
from common.webservice import install_json_errors, install_request_log, keep_answer_key_order
from mlapp import inference, inference_doc, model_versions, routes
from mlapp.config import SERVICE, MlappConfig, apply_mlflow_http_defaults
from mlapp.context import EXTENSION, MlappContext
from mlapp.model_holder import ModelHolder, safe_uri
from mlapp.promotions import ModelRefresher

# The largest body any route accepts (each route has its own, smaller cap: see `common.openapi`).
MAX_BODY_BYTES = 6 * 1024 * 1024
# How long start-up waits for the first model before serving anyway (503 until a model is loaded). Well below
# gunicorn's worker timeout, which also applies while the app is being built.
STARTUP_WAIT_SECONDS = 10.0


def create_app(
    settings: Settings | None = None,
    *,
    config: MlappConfig | None = None,
    holder: ModelHolder | None = None,
    background: bool = True,
    startup_wait_seconds: float = STARTUP_WAIT_SECONDS,
) -> Flask:
    """Build the app. Without arguments everything comes from the environment (read once, here).

    `background=False` starts neither alias polling nor the promotions subscription: tests then `install()` a
    model into their own `holder`, or call `holder.refresh()` themselves.
    """
    from_environment = config is None and settings is None
    config = config or MlappConfig.from_env(settings=settings)
    settings = config.settings
    log = configure_logging(SERVICE)
    if from_environment:  # the app owns the process (gunicorn): tune MLflow's client for it, not a test's
        apply_mlflow_http_defaults()
    holder = holder or ModelHolder(
        settings.mlflow_tracking_uri, settings.model_name, settings.champion_alias, config.drift_window
    )

    app = Flask(SERVICE)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    keep_answer_key_order(app)
    install_request_log(app, SERVICE, config.settings.access_log_sample)
    install_json_errors(app)
    routes.install(app)
    inference.install(app)
    inference_doc.register()
    model_versions.install(app, holder)

    refresher = None
    if background:
        refresher = ModelRefresher(holder, config.poll_seconds, settings.gcp_project or None)
        refresher.start()
        atexit.register(refresher.stop)
    app.extensions[EXTENSION] = MlappContext(config=config, holder=holder, refresher=refresher)
    if background:
        holder.wait_first_check(startup_wait_seconds)
    model = holder.current
    log.info(
        "mlapp ready to serve" if model else "mlapp serving without a model yet (503 until one is loaded)",
        extra={
            "model_uri": f"models:/{settings.model_name}@{settings.champion_alias}",
            "tracking_uri": safe_uri(settings.mlflow_tracking_uri),
            "model_version": model.version if model else None,
            "poll_seconds": config.poll_seconds,
            "pubsub_project": settings.gcp_project or None,
        },
    )
    return app
