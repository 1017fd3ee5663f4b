"""`make bench` / `uv run bench`: run the selected sections in order, print one table, write the JSON.

Order matters: the data job versions the synthetic rows, training fits every family on the largest version
and promotes the champion, and the serving sections all serve that one champion.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

from common import bus
from common.events import ALL_TOPICS
from common.jsonlog import configure_logging
from common.settings import ConfigError
from local_platform.processes import free_port
from local_platform.stack import Ports, Stack
from platform_bench import batch, data_job, serving, training, webapp_roundtrip
from platform_bench.config import REPO_ROOT, BenchConfig
from platform_bench.context import BenchContext
from platform_bench.report import Row, git_commit, render_table, write_json

SECTION_RUNNERS: dict[str, Callable[[BenchContext], list[Row]]] = {
    "data_job": data_job.run,
    "training": training.run,
    "serving": serving.run,
    "batch": batch.run,
    "webapp": webapp_roundtrip.run,
}


def _ports() -> Ports:
    return Ports(pubsub=free_port(), mlflow=free_port(), dbapp=free_port(), mlapp=free_port())


def _create_topics(stack: Stack) -> None:
    """The platform's topics (mlapp subscribes to promotions, webapp publishes every prediction), without dbapp's
    subscriptions: nothing consumes during the bench, so published events are dropped, not piled up."""
    env = stack.env()
    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]  # the client library reads it from here
    bus.ensure_topics(env["GCP_PROJECT"], ALL_TOPICS)


def run(config: BenchConfig, log: logging.Logger) -> list[Row]:
    shutil.rmtree(config.work_dir, ignore_errors=True)
    config.work_dir.mkdir(parents=True)
    stack = Stack(data_dir=config.work_dir / "platform", ports=_ports(), log_dir=config.work_dir / "logs")
    (config.work_dir / "logs").mkdir(parents=True, exist_ok=True)
    context = BenchContext(config=config, stack=stack)
    rows: list[Row] = []
    try:
        log.info("starting the bench platform (Pub/Sub emulator, MLflow)", extra={"work_dir": str(config.work_dir)})
        stack.start_bus()
        _create_topics(stack)
        stack.start_mlflow()
        for name in config.sections:
            started = time.monotonic()
            log.info("section started", extra={"section": name})
            section_rows = SECTION_RUNNERS[name](context)
            rows += section_rows
            log.info("section finished", extra={"section": name, "seconds": round(time.monotonic() - started, 1)})
    finally:
        stack.stop()
    return rows


def main() -> int:
    log = configure_logging("bench")
    try:
        config = BenchConfig.from_env()
    except ConfigError as exc:
        log.error(str(exc))
        return 2
    started, commit = datetime.now(UTC), git_commit(REPO_ROOT)  # the code measured is the code at the start
    rows = run(config, log)
    path = write_json(rows, config.results_dir, asdict(config), REPO_ROOT, started, commit)
    sys.stdout.write("\n" + render_table(rows) + "\n\n")
    log.info("results written", extra={"path": str(path)})
    missed = [f"{r.section}: {r.case}" for r in rows if r.met is False]
    if missed:
        log.warning("targets not met", extra={"cases": missed})
    return 0


if __name__ == "__main__":
    sys.exit(main())
