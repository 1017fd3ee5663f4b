"""The platform the chaos run attacks: the same components and supervision as `make up` (every killed component
is restarted by `local_platform.supervisor`, nothing else), on free ports, with its own data folder."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

from common.settings import Settings
from local_platform.pipeline import create_topics_and_subscriptions, seed_sample_data
from local_platform.processes import Child, free_port
from local_platform.stack import SAMPLE_DATASET, SAMPLE_OBJECT, Ports, Stack
from local_platform.supervisor import Supervisor
from platform_chaos.config import ChaosConfig
from platform_chaos.ledger import COLLECTIONS, STREET_PREFIX

log = logging.getLogger("chaos")


class NotRecovered(RuntimeError):
    """A killed component did not serve again within the recovery timeout."""


@dataclass
class RunningPlatform:
    stack: Stack
    settings: Settings

    @property
    def webapp_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports.webapp}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.stack.ports, name)}"

    def child(self, name: str) -> Child:
        [found] = [c for c in self.stack.children if c.name == name]
        return found

    def stored_streets(self) -> dict[str, dict[str, int]]:
        return stored_streets(self.url("dbapp"))


def stored_streets(dbapp_url: str) -> dict[str, dict[str, int]]:
    """collection -> street -> documents, for the streets the load wrote (every page of `/retrieve`)."""
    counts: dict[str, dict[str, int]] = {}
    for collection in COLLECTIONS.values():
        seen: Counter[str] = Counter()
        after = None
        while True:
            params = {"limit": 500, **({"after": after} if after else {})}
            page = requests.get(f"{dbapp_url}/retrieve/{collection}", params=params, timeout=10).json()
            seen.update(i["street"] for i in page["data"] if str(i.get("street", "")).startswith(STREET_PREFIX))
            if not page.get("has_more"):
                break
            after = page["next_cursor"]
        counts[collection] = dict(seen)
    return counts


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `check()` held; `NotRecovered` naming `what` after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(requests.RequestException):
            if check():
                return time.monotonic() - started
        time.sleep(0.25)
    raise NotRecovered(f"{what} did not happen within {timeout:.0f} s")


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: requests.get(url, timeout=2).status_code == 200


@contextlib.contextmanager
def running_platform(config: ChaosConfig) -> Iterator[RunningPlatform]:
    """Start every component, version the sample and train once (a champion to serve), supervise until exit."""
    shutil.rmtree(config.work_dir, ignore_errors=True)
    ports = Ports(pubsub=free_port(), mlflow=free_port(), dbapp=free_port(), mlapp=free_port(), webapp=free_port())
    stack = Stack(data_dir=config.work_dir / "platform", ports=ports, log_dir=config.work_dir / "logs")
    (config.work_dir / "logs").mkdir(parents=True, exist_ok=True)
    os.environ.update(stack.env())
    settings = Settings.from_env("chaos")
    stop = threading.Event()
    watcher: threading.Thread | None = None
    try:
        stack.start_bus()
        create_topics_and_subscriptions(settings)
        stack.start_mlflow()
        stack.start_dbapp()
        stack.start_mlapp()
        stack.start_webapp()
        seed_sample_data(settings, SAMPLE_DATASET, SAMPLE_OBJECT)
        log.info("versioning the sample and training a first champion")
        if stack.run_pipeline() != 0:
            raise NotRecovered(f"the first pipeline failed: see {stack.log_dir}")
        platform = RunningPlatform(stack, settings)
        wait_until(http_ok(f"{platform.url('mlapp')}/readyz"), 120, "mlapp serving the first champion")
        supervisor = Supervisor(stack.children)
        watcher = threading.Thread(target=_supervise, args=(supervisor, stop), name="supervisor", daemon=True)
        watcher.start()
        yield platform
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=5)  # no restart may race the stop below
        stack.stop()


def _supervise(supervisor: Supervisor, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        supervisor.tick()
