"""One pass of the data pipeline against a running stack: seed the sample data if the platform is empty,
run the data job, then (unless the dispatcher trains) every trainer."""

from __future__ import annotations

import logging
from pathlib import Path

from common import bus
from common.blobstore import open_store
from common.dataset_versions import committed_versions
from common.events import ALL_TOPICS, SUBSCRIPTIONS
from common.settings import Settings
from local_platform import components
from local_platform.processes import Child

log = logging.getLogger("platform")


def create_topics_and_subscriptions(settings: Settings) -> None:
    bus.ensure_topics(settings.gcp_project, ALL_TOPICS)
    for subscription, topic in SUBSCRIPTIONS.items():
        bus.ensure_subscription(settings.gcp_project, subscription, topic)


def seed_sample_data(settings: Settings, sample: Path, object_name: str) -> bool:
    """Put the sample CSV in the landing bucket when the platform holds no data at all. True if it did."""
    landing, datasets = open_store(settings.landing_bucket), open_store(settings.datasets_bucket)
    if landing.list() or committed_versions(datasets):
        return False
    landing.write(object_name, sample.read_bytes(), content_type="text/csv")
    log.info("loaded the sample dataset into the landing bucket", extra={"object": object_name})
    return True


def latest_dataset_version(settings: Settings) -> int:
    """The newest committed dataset version (0 when there is none)."""
    versions = committed_versions(open_store(settings.datasets_bucket))
    return versions[-1].version if versions else 0


def run_job(name: str, cmd: list[str], env: dict[str, str], log_path: Path | None = None) -> int:
    child = Child(name, cmd, env=env, log_path=log_path, own_session=False).start()
    code = child.wait()
    level = logging.INFO if code == 0 else logging.ERROR
    log.log(level, f"{name} finished with exit code {code}", extra={"job": name, "exit_code": code})
    return code


def run_pipeline(env: dict[str, str], log_dir: Path | None = None, train: bool = True) -> int:
    """Data job, then (`train`) `train --all`. Returns the first non-zero exit code (0 when all succeeded)."""
    logs = (lambda n: log_dir / f"{n}.log") if log_dir else (lambda n: None)
    code = run_job("data-job", [components.python_tool("data-job")], env, logs("data-job"))
    if code != 0:
        log.error("the data job failed; trainers not started")
        return code
    if not train:
        return 0
    return run_job("train", [components.python_tool("train"), "--all"], env, logs("train"))
