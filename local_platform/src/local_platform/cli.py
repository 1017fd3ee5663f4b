"""`platform up` runs the whole platform in the foreground; `platform pipeline` runs the data job and every
trainer once against it; `platform data-job` runs only the data job (the dispatcher then starts the trainers);
`platform up-regions` runs two regions behind a global front (`local_platform.regions`). `make up`,
`make pipeline`, `make data-job` and `make up-regions` call these."""

from __future__ import annotations

import argparse
import logging
import os
import sys

import requests

from common.jsonlog import configure_logging, is_terminal
from common.settings import ConfigError, Settings
from common.shutdown import stop_on_signals
from local_platform import components, monitoring
from local_platform.config import LauncherConfig
from local_platform.container_stack import ContainerStack
from local_platform.engine import Engine, EngineMissing, detect_engine
from local_platform.pipeline import create_topics_and_subscriptions, latest_dataset_version, seed_sample_data
from local_platform.processes import NotReady, terminal_log_env
from local_platform.readiness import recreate_bus, wait_for_dispatcher, wait_for_model
from local_platform.regions import up_regions
from local_platform.stack import SAMPLE_DATASET, SAMPLE_OBJECT, Stack
from local_platform.supervisor import Supervisor

log = logging.getLogger("platform")


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
    stopping = stop_on_signals(log, "stopping every component")
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
        stack.children.extend(monitoring.start(stack.ports, stack.data_dir, stack.log_dir))
        if seed_sample_data(settings, SAMPLE_DATASET, SAMPLE_OBJECT):
            log.info("the platform was empty: the sample dataset will be versioned and trained on")
        before = latest_dataset_version(settings)
        if not skip_pipeline and not stopping.is_set() and stack.run_pipeline(train=not dispatching) != 0:
            log.error("the first pipeline run failed (see above); the services keep running")
        if stopping.is_set():
            return 0
        if dispatching:
            after = latest_dataset_version(settings)
            wait_for_dispatcher(stack.ports.dispatcher, after if after > before else 0, stopping)
        wait_for_model(stack, settings)
        _announce(stack)
        supervisor = Supervisor(stack.children, after_restart={"pubsub": lambda: recreate_bus(stack, settings)})
        while not stopping.wait(1.0):
            supervisor.tick()
        return 0
    except (components.MissingPrerequisite, NotReady) as exc:
        log.error(str(exc))
        return 1
    finally:
        stack.stop()
        log.info("every component stopped; data kept in " + str(stack.data_dir))


def _announce(stack: Stack | ContainerStack) -> None:
    lines = [
        f"The platform is running: open http://127.0.0.1:{stack.ports.webapp}",
        f"  webapp        http://127.0.0.1:{stack.ports.webapp}",
        f"  mlapp         http://127.0.0.1:{stack.ports.mlapp}/model-info",
        f"  MLflow        http://127.0.0.1:{stack.ports.mlflow}",
        f"  dbapp         http://127.0.0.1:{stack.ports.dbapp}/healthz",
        f"  dispatcher    http://127.0.0.1:{stack.ports.dispatcher}/metrics",
        *monitoring.addresses(stack.children, stack.ports),
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
    sub.add_parser("up-regions", help="two regional platforms behind HAProxy with the failover controller")
    args = parser.parse_args(argv)
    os.environ.update(terminal_log_env(os.environ, is_terminal(sys.stdout)))  # the children inherit it
    try:
        configure_logging("platform")
        if args.command == "up":
            code = up(skip_pipeline=args.skip_pipeline, containers=args.containers)
        elif args.command == "up-regions":
            code = up_regions()
        else:
            code = pipeline(train=args.command == "pipeline")
    except ConfigError as exc:
        raise SystemExit(f"platform: {exc}") from None
    sys.exit(code)


if __name__ == "__main__":
    main()
