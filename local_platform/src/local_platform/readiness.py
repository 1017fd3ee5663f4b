"""Waiting for the local platform to be usable: the bus back after a restart, the dispatcher's first trainings,
mlapp's first model. `make up` and `make up-regions` both wait this way."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from common.settings import Settings
from local_platform import components
from local_platform.container_stack import ContainerStack
from local_platform.pipeline import create_topics_and_subscriptions
from local_platform.processes import NotReady
from local_platform.stack import Stack

log = logging.getLogger("platform")
FIRST_TRAINING_SECONDS = 900.0  # at most this long waiting for the dispatcher's first trainings before the announcement


def recreate_bus(stack: Stack | ContainerStack, settings: Settings, timeout: float = 90.0) -> None:
    """A restarted emulator starts empty (it keeps messages in memory): the topics and subscriptions come back."""
    ready = components.pubsub_ready(stack.ports.pubsub)
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise NotReady(f"the Pub/Sub emulator did not listen on port {stack.ports.pubsub} within {timeout:.0f} s")
        time.sleep(0.5)
    create_topics_and_subscriptions(settings)


def dispatcher_state(port: int) -> tuple[float, float] | None:
    """(latest dataset version dispatched, runs pending) from the dispatcher's /metrics, None if unreachable."""
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except requests.RequestException:
        return None
    values = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}
    return values.get("dispatcher_last_dataset_version", 0.0), values.get("dispatcher_pending_runs", 0.0)


def wait_for_dispatcher(port: int, version: int, stopping: threading.Event) -> None:
    """Until the dispatcher has taken dataset version `version` (0: none is expected) and every training it
    queued has ended, so that the platform is announced with its models; progress every 30 s."""
    deadline = time.monotonic() + FIRST_TRAINING_SECONDS
    report = time.monotonic() + 30
    while not stopping.wait(1.0) and time.monotonic() < deadline:
        state = dispatcher_state(port)
        if state is not None and state[0] >= version and state[1] == 0:
            return
        if state is not None and time.monotonic() > report:
            report += 30
            log.info(f"training: {state[1]:.0f} run(s) queued or running", extra={"dataset_version": version})
    log.warning(f"training did not finish within {FIRST_TRAINING_SECONDS:.0f} s; see the dispatcher's lines")


def champion_exists(stack: Stack | ContainerStack, settings: Settings) -> bool:
    """Whether the registry holds a champion (MLflow's REST API: 404 for an alias or model it does not have). An
    answer that is neither 200 nor 404 counts as yes, so that mlapp is waited for rather than doubted."""
    url = f"http://127.0.0.1:{stack.ports.mlflow}/api/2.0/mlflow/registered-models/alias"
    params = {"name": settings.model_name, "alias": settings.champion_alias}
    try:
        return requests.get(url, params=params, timeout=5).status_code != 404
    except requests.RequestException:
        return True


def wait_for_model(stack: Stack | ContainerStack, settings: Settings, timeout: float = 60.0) -> None:
    """mlapp loads the champion in the background; say so plainly if there is none yet (at once when the registry
    has no champion: `make up --skip-pipeline` on an empty platform has nothing to wait for)."""
    url = f"http://127.0.0.1:{stack.ports.mlapp}/readyz"
    deadline = time.monotonic() + (timeout if champion_exists(stack, settings) else 0.0)
    while True:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    log.warning("mlapp has no model loaded yet: predictions answer 503 until a champion exists (run make pipeline)")
