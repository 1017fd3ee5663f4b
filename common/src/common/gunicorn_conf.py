"""gunicorn settings shared by every Flask service, all taken from the environment.

Use with `gunicorn -c python:common.gunicorn_conf 'pkg.app:create_app()'`. `PORT`, `GUNICORN_WORKERS`,
`GUNICORN_THREADS`, `GUNICORN_TIMEOUT`, `GUNICORN_GRACEFUL_TIMEOUT` and `GUNICORN_WORKER_CLASS` tune it.
`READ_ONLY_PORT` adds a second listener on which the app serves only reads (see
`common.webservice.install_read_only_port`): NetworkPolicies then let readers reach only that port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from prometheus_client import multiprocess

from common.jsonlog import LogStyle

_host = os.environ.get("HOST", "0.0.0.0")
bind = [f"{_host}:{os.environ.get('PORT', '8080')}"]
if os.environ.get("READ_ONLY_PORT"):
    bind.append(f"{_host}:{os.environ['READ_ONLY_PORT']}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# after SIGTERM, requests in flight get this long to finish: longer than webapp's 10 s publish timeout, so an
# accepted prediction or correction is answered (the pods' preStop pause comes before, the two fit in the 30 s
# terminationGracePeriodSeconds)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# gunicorn >= 26 opens a control socket under $HOME by default: several servers on one machine would share
# it, and a read-only root filesystem (Kubernetes) forbids it. Nothing here uses it.
control_socket_disable = True
keepalive = 5
accesslog = None
# gunicorn's own lines take the style the app's use (`LOG_FORMAT`, `LOG_COLOR`: see common.jsonlog), resolved
# here once, so a bad value stops gunicorn before it binds. The formatter keeps its historical key "json" whatever
# the style: mlapp.gunicorn_conf sets its service name through that key.
_style = LogStyle.from_env(os.environ, sys.stdout)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "common.jsonlog.make_formatter",
            "service": os.environ.get("SERVICE_NAME", "gunicorn"),
            "style": _style.format,
            "colour": _style.colour,
        }
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}


PR_SET_PDEATHSIG = 1


def post_fork(server, worker) -> None:
    """A worker dies the moment its master does. Without this, a master killed by SIGKILL (an OOM kill, a crash)
    leaves its workers serving and holding the port until their graceful timeout runs out, so the restarted
    server cannot bind for up to 20 s. In a pod the whole container goes anyway; on one machine (`make up`)
    this is what lets the supervisor restart the service within seconds."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def on_starting(server) -> None:
    """Create the multiprocess metrics folder (in a pod it lives on a fresh emptyDir, which starts empty).

    Not emptied here: in the dbapp pod the consumer container writes its counters to the same folder."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
