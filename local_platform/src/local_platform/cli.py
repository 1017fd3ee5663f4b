"""`platform up` runs the whole platform in the foreground; `platform pipeline` runs the data job and every
trainer once against it; `platform data-job` runs only the data job (the dispatcher then starts the trainers).
`make up`, `make pipeline` and `make data-job` call these."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from common.jsonlog import configure_logging, is_terminal
from common.settings import ConfigError, Settings
from local_platform import components
from local_platform.config import LauncherConfig
from local_platform.container_stack import ContainerStack
from local_platform.engine import Engine, EngineMissing, detect_engine
from local_platform.pipeline import create_topics_and_subscriptions, latest_dataset_version, seed_sample_data
from local_platform.processes import NotReady, terminal_log_env
from local_platform.stack import SAMPLE_DATASET, SAMPLE_OBJECT, Stack
from local_platform.supervisor import Supervisor

log = logging.getLogger("platform")
FIRST_TRAINING_SECONDS = 900.0  # at most this long waiting for the dispatcher's first trainings before the announcement


def _process_stack(config: LauncherConfig) -> Stack:
    return Stack(data_dir=config.data_dir, ports=config.ports, gcp_project=config.gcp_project)


def _container_stack(config: LauncherConfig, engine: Engine) -> ContainerStack:
    return ContainerStack(
        data_dir=config.data_dir, engine=engine, ports=config.ports, name=config.container_name,
        gcp_project=config.gcp_project,
    )  # fmt: skip


def _stack(containers: bool) -> Stack | ContainerStack:
    config = LauncherConfig.from_env(os.environ)
    return _container_stack(config, detect_engine()) if containers else _process_stack(config)


def up(skip_pipeline: bool = False, containers: bool = False) -> int:
    try:
        stack = _stack(containers)
    except EngineMissing as exc:
        log.error(f"cannot run the platform from its images: {exc}")
        return 1
    stack.check_ports_free()
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info(f"received {signal.Signals(signum).name}, stopping every component")
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    os.environ.update(stack.env())
    settings = Settings.from_env("platform")
    try:
        stack.prepare()
        log.info("starting the Pub/Sub emulator", extra={"port": stack.ports.pubsub})
        stack.start_bus()
        create_topics_and_subscriptions(settings)
        log.info("starting MLflow", extra={"port": stack.ports.mlflow})
        stack.start_mlflow()
        log.info("starting dbapp and its consumer", extra={"port": stack.ports.dbapp})
        stack.start_dbapp()
        log.info(
            "starting mlapp and webapp", extra={"mlapp_port": stack.ports.mlapp, "webapp_port": stack.ports.webapp}
        )
        stack.start_mlapp()
        stack.start_webapp()
        dispatching = stack.start_dispatcher()
        if dispatching:
            log.info(
                "the dispatcher runs: every new dataset version trains every family",
                extra={"port": stack.ports.dispatcher},
            )
        if seed_sample_data(settings, SAMPLE_DATASET, SAMPLE_OBJECT):
            log.info("the platform was empty: the sample dataset will be versioned and trained on")
        before = latest_dataset_version(settings)
        if not skip_pipeline and not stopping.is_set() and stack.run_pipeline(train=not dispatching) != 0:
            log.error("the first pipeline run failed (see above); the services keep running")
        if stopping.is_set():
            return 0
        if dispatching:
            after = latest_dataset_version(settings)
            _wait_for_dispatcher(stack.ports.dispatcher, after if after > before else 0, stopping)
        _wait_for_model(stack)
        _announce(stack)
        supervisor = Supervisor(stack.children, after_restart={"pubsub": lambda: _recreate_bus(stack, settings)})
        while not stopping.wait(1.0):
            supervisor.tick()
        return 0
    except (components.MissingPrerequisite, NotReady) as exc:
        log.error(str(exc))
        return 1
    finally:
        stack.stop()
        log.info("every component stopped; data kept in " + str(stack.data_dir))


def _recreate_bus(stack: Stack | ContainerStack, settings: Settings, timeout: float = 90.0) -> None:
    """A restarted emulator starts empty (it keeps messages in memory): the topics and subscriptions come back."""
    ready = components.pubsub_ready(stack.ports.pubsub)
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise NotReady(f"the Pub/Sub emulator did not listen on port {stack.ports.pubsub} within {timeout:.0f} s")
        time.sleep(0.5)
    create_topics_and_subscriptions(settings)


def _dispatcher_state(port: int) -> tuple[float, float] | None:
    """(latest dataset version dispatched, runs pending) from the dispatcher's /metrics, None if unreachable."""
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except requests.RequestException:
        return None
    values = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}
    return values.get("dispatcher_last_dataset_version", 0.0), values.get("dispatcher_pending_runs", 0.0)


def _wait_for_dispatcher(port: int, version: int, stopping: threading.Event) -> None:
    """Until the dispatcher has taken dataset version `version` (0: none is expected) and every training it
    queued has ended, so that the platform is announced with its models; progress every 30 s."""
    deadline = time.monotonic() + FIRST_TRAINING_SECONDS
    report = time.monotonic() + 30
    while not stopping.wait(1.0) and time.monotonic() < deadline:
        state = _dispatcher_state(port)
        if state is not None and state[0] >= version and state[1] == 0:
            return
        if state is not None and time.monotonic() > report:
            report += 30
            log.info(f"training: {state[1]:.0f} run(s) queued or running", extra={"dataset_version": version})
    log.warning(f"training did not finish within {FIRST_TRAINING_SECONDS:.0f} s; see the dispatcher's lines")


def _wait_for_model(stack: Stack | ContainerStack, timeout: float = 60.0) -> None:
    """mlapp loads the champion in the background; say so plainly if there is none yet."""
    url = f"http://127.0.0.1:{stack.ports.mlapp}/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    log.warning("mlapp has no model loaded yet: predictions answer 503 until a champion exists (run make pipeline)")


def _announce(stack: Stack | ContainerStack) -> None:
    lines = [
        f"The platform is running: open http://127.0.0.1:{stack.ports.webapp}",
        f"  webapp        http://127.0.0.1:{stack.ports.webapp}",
        f"  mlapp         http://127.0.0.1:{stack.ports.mlapp}/model-info",
        f"  MLflow        http://127.0.0.1:{stack.ports.mlflow}",
        f"  dbapp         http://127.0.0.1:{stack.ports.dbapp}/healthz",
        f"  dispatcher    http://127.0.0.1:{stack.ports.dispatcher}/metrics",
        f"  Pub/Sub       127.0.0.1:{stack.ports.pubsub} (emulator)",
        f"  data          {stack.data_dir}",
        "Press Ctrl-C to stop. Run `make data-job` in another terminal to version new data (the dispatcher then "
        "retrains every family), or `make pipeline` to run the data job and every trainer yourself.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def pipeline(train: bool = True) -> int:
    """Against whichever platform runs: from the job images when `make up-containers` runs it, else as processes.
    `train=False`: only the data job."""
    config = LauncherConfig.from_env(os.environ)
    stack = _running_container_stack(config) or _process_stack(config)
    env = stack.env()
    for name, url in (("MLflow", env["MLFLOW_TRACKING_URI"] + "/health"), ("dbapp", env["DBAPP_URL"] + "/healthz")):
        try:
            requests.get(url, timeout=3).raise_for_status()
        except requests.RequestException:
            log.error(f"{name} is not reachable at {url}: start the platform with `make up` first")
            return 2
    return stack.run_pipeline(train=train)


def _running_container_stack(config: LauncherConfig) -> ContainerStack | None:
    try:
        engine = detect_engine()
    except EngineMissing:
        return None
    stack = _container_stack(config, engine)
    return stack if stack.running_containers() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="run every component in the foreground until Ctrl-C")
    up_parser.add_argument("--skip-pipeline", action="store_true", help="do not run the data job and trainers")
    up_parser.add_argument(
        "--containers", action="store_true", help="run every component from its image (build them with make images)"
    )
    sub.add_parser("pipeline", help="run the data job and every trainer once against the running platform")
    sub.add_parser("data-job", help="run only the data job against the running platform (the dispatcher trains)")
    args = parser.parse_args(argv)
    os.environ.update(terminal_log_env(os.environ, is_terminal(sys.stdout)))  # the children inherit it
    try:
        configure_logging("platform")
        if args.command == "up":
            code = up(skip_pipeline=args.skip_pipeline, containers=args.containers)
        else:
            code = pipeline(train=args.command == "pipeline")
    except ConfigError as exc:
        raise SystemExit(f"platform: {exc}") from None
    sys.exit(code)


if __name__ == "__main__":
    main()
