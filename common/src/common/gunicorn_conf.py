"""gunicorn settings shared by every Flask service, all taken from the environment.

Use with `gunicorn -c python:common.gunicorn_conf 'pkg.app:create_app()'`. The variables that tune it are read
by `common.server_settings.ServerSettings`. `READ_ONLY_PORT` adds a second listener on which the app serves only
reads (see `common.webservice.install_read_only_port`): NetworkPolicies then let readers reach only that port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

from prometheus_client import multiprocess

from common.jsonlog import gunicorn_logging
from common.metrics import multiprocess_dir
from common.server_settings import ServerSettings

_server = ServerSettings.from_env(os.environ)
bind = _server.bind
workers = _server.workers
threads = _server.threads
worker_class = _server.worker_class
timeout = _server.timeout
# after SIGTERM, requests in flight get this long to finish: longer than webapp's 10 s publish timeout, so an
# accepted prediction or correction is answered (the pods' preStop pause comes before, the two fit in the 30 s
# terminationGracePeriodSeconds)
graceful_timeout = _server.graceful_timeout
# gunicorn >= 26 opens a control socket under $HOME by default: several servers on one machine would share
# it, and a read-only root filesystem (Kubernetes) forbids it. Nothing here uses it.
control_socket_disable = True
keepalive = 5
accesslog = None
logger_class = "common.gunicorn_logger.AppLogger"  # gunicorn's logger without its access lines (the apps write theirs)
logconfig_dict = gunicorn_logging(_server.service_name)


PR_SET_PDEATHSIG = 1


def post_fork(server: Any, worker: Any) -> None:
    """A worker dies the moment its master does. Without this, a master killed by SIGKILL (an OOM kill, a crash)
    leaves its workers serving and holding the port until their graceful timeout runs out, so the restarted
    server cannot bind for up to 20 s. In a pod the whole container goes anyway; on one machine (`make up`)
    this is what lets the supervisor restart the service within seconds."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, close the worker's idle keep-alive connections at once.

    gunicorn's threaded worker (26.x) ends its graceful shutdown only when no connection is open, and waits for
    the next event with the whole remaining graceful timeout: one idle keep-alive connection (a browser, a
    Prometheus scrape, a load balancer's health check) held every service 20 s after SIGTERM, measured with a
    single idle connection, where none held it 0.4 s. A request in flight still gets the graceful timeout; an
    idle connection carries none, and HTTP lets a server close it at any time. Other worker classes are left
    as they are."""
    if not all(hasattr(worker, name) for name in _GTHREAD_PARTS):
        return
    graceful_exit = worker.handle_exit

    def exit_closing_idle(signum: int, frame: Any) -> None:
        graceful_exit(signum, frame)
        worker.method_queue.defer(_close_idle_connections, worker)  # run by the worker's loop, on its main thread

    signal.signal(signal.SIGTERM, exit_closing_idle)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn sets it: SIGTERM does not cut short a request's I/O


# what the threaded worker has and the hook uses (its internals: a worker without them is left alone)
_GTHREAD_PARTS = ("method_queue", "keepalived_conns", "pending_conns", "murder_keepalived", "murder_pending")


def _close_idle_connections(worker: Any) -> None:
    """Expire every idle connection (kept alive, or accepted and still silent) and let gunicorn close them."""
    for conn in (*worker.keepalived_conns, *worker.pending_conns):
        conn.timeout = 0.0
    worker.murder_keepalived()
    worker.murder_pending()


def child_exit(server: Any, worker: Any) -> None:
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # prometheus_client: unannotated


def on_starting(server: Any) -> None:
    """Create the multiprocess metrics folder (in a pod it lives on a fresh emptyDir, which starts empty).

    Not emptied here: in the dbapp pod the consumer container writes its counters to the same folder."""
    path = multiprocess_dir()
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
