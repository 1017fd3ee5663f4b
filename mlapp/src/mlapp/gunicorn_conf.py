"""gunicorn settings for mlapp: the shared ones (`common.gunicorn_conf`), port 8081 and service name "mlapp"
unless `PORT` / `SERVICE_NAME` say otherwise, and a `worker_exit` hook that deletes the worker's promotions
subscription.

    gunicorn -c python:mlapp.gunicorn_conf 'mlapp.app:create_app()'

The app also deletes its subscription from an atexit handler, so `-c python:common.gunicorn_conf` (what the local
platform's launcher uses) cleans up as well on a normal shutdown; the hook is the explicit path.
"""

from __future__ import annotations

import os
from typing import Any

from common.gunicorn_conf import *  # noqa: F403
from common.jsonlog import gunicorn_logging
from common.server_settings import ServerSettings

_server = ServerSettings.from_env(os.environ, default_port=8081, default_service="mlapp")
bind = _server.bind
logconfig_dict = gunicorn_logging(_server.service_name)


def worker_exit(server: Any, worker: Any) -> None:
    from mlapp.context import EXTENSION

    app = getattr(worker, "wsgi", None)
    context = getattr(app, "extensions", {}).get(EXTENSION) if app is not None else None
    if context is not None:
        context.shutdown()
