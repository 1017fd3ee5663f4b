"""gunicorn settings for mlapp: the shared ones (`common.gunicorn_conf`), port 8081 unless `PORT` says otherwise,
and a `worker_exit` hook that deletes the worker's promotions subscription.

    gunicorn -c python:mlapp.gunicorn_conf 'mlapp.app:create_app()'

The app also deletes its subscription from an atexit handler, so `-c python:common.gunicorn_conf` (what the local
platform's launcher uses) cleans up as well on a normal shutdown; the hook is the explicit path.
"""

from __future__ import annotations

import copy
import os

from common.gunicorn_conf import *  # noqa: F403
from common.gunicorn_conf import logconfig_dict as _shared_logconfig

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8081')}"
logconfig_dict = copy.deepcopy(_shared_logconfig)
logconfig_dict["formatters"]["json"]["service"] = os.environ.get("SERVICE_NAME", "mlapp")


def worker_exit(server, worker) -> None:
    from mlapp.context import EXTENSION

    app = getattr(worker, "wsgi", None)
    context = getattr(app, "extensions", {}).get(EXTENSION) if app is not None else None
    if context is not None:
        context.shutdown()
