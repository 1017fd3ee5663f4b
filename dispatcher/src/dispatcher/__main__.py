"""`dispatcher`: pull `dataset-versions` and start every family's training for each committed version.

On Kubernetes (`DISPATCH_MODE=kubernetes`) each run is a Job made from the family's CronJob; locally
(`DISPATCH_MODE=local`, what `make up` runs) each run is `train --family <name>`, one at a time, and at start
every family is trained on the latest version it has not been trained on yet. SIGTERM or SIGINT stops it after
the current pull (and, locally, after stopping the running trainer).

Exit codes: 0 stopped when asked, 2 configuration error.
"""

from __future__ import annotations

import logging
import os
import threading
from http.server import ThreadingHTTPServer

from common import bus
from common.consumer_loop import pull_until_stopped, retry_until_stopped
from common.events import DISPATCHER_SUBSCRIPTION, TOPIC_DATASET_VERSIONS
from common.jsonlog import configure_logging
from common.settings import ConfigError
from common.shutdown import stop_on_signals
from common.small_http import serve
from dispatcher.config import DispatcherConfig, Mode
from dispatcher.dispatch import Dispatcher
from dispatcher.kubernetes_jobs import KubernetesLauncher
from dispatcher.local_trainers import LocalLauncher
from dispatcher.outcome import Launcher

log = logging.getLogger("dispatcher")


def make_launcher(config: DispatcherConfig) -> Launcher:
    if config.mode is Mode.KUBERNETES:
        assert config.kubernetes is not None  # DispatcherConfig sets it in this mode
        return KubernetesLauncher(config.kubernetes)
    return LocalLauncher(config.state_dir, config.trainer_command, dict(os.environ)).start(catch_up=config.families)


def ensure_subscription(project: str) -> None:
    bus.ensure_topics(project, [TOPIC_DATASET_VERSIONS])
    bus.ensure_subscription(project, DISPATCHER_SUBSCRIPTION, TOPIC_DATASET_VERSIONS)


def close_when_stopped(server: ThreadingHTTPServer, stop: threading.Event) -> None:
    """Free the port as soon as a stop is asked for: the pull loop may still drain for a while, and whoever stops
    us (`make up`, a kubelet) reads a closed port as "stopped"."""
    stop.wait()
    server.shutdown()
    server.server_close()


def main() -> int:
    try:
        config = DispatcherConfig.from_env(os.environ)
    except ConfigError as exc:
        configure_logging("dispatcher").error("configuration error: %s", exc)
        return 2
    configure_logging("dispatcher")
    stop = stop_on_signals(log)
    project = config.settings.gcp_project
    pulling = threading.Event()
    server = serve(config.host, config.port, ready=pulling.is_set)
    threading.Thread(target=close_when_stopped, args=(server, stop), name="health-closer", daemon=True).start()
    launcher = make_launcher(config)
    log.info(
        "dispatcher starting",
        extra={"mode": config.mode.value, "families": list(config.families), "subscription": DISPATCHER_SUBSCRIPTION},
    )
    try:
        if retry_until_stopped("creating the subscription", lambda: ensure_subscription(project), stop):
            pulling.set()
            pull_until_stopped(
                project, DISPATCHER_SUBSCRIPTION, Dispatcher(launcher, config.families), stop, dead_letter=True
            )
    finally:
        pulling.clear()
        stop.set()
        launcher.close()
    log.info("dispatcher stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
