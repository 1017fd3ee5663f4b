"""One fault per component: SIGKILL it at a moment that hurts, then measure how long until it serves again.

Services and the consumer are killed where they run (the supervisor restarts them, as Kubernetes would); the
data job between writing a version's data and its manifest; a trainer in the middle of its run. The jobs are then
run again, as their CronJobs would, and must leave the data and the registry whole.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from common.blobstore import open_store
from common.bus import Publisher
from common.dataset_versions import committed_versions, read_split
from common.events import Event
from local_platform import components
from local_platform.pipeline import run_job
from local_platform.processes import Child
from local_platform.stack import SAMPLE_DATASET
from platform_chaos.load import house
from platform_chaos.running import NotRecovered, RunningPlatform, http_ok, wait_until

log = logging.getLogger("chaos")
PROBE_PREFIX = "probe "
READY_PATHS = {"dbapp": "/readyz", "webapp": "/readyz", "mlapp": "/readyz", "mlflow": "/health"}


def _sigkill(child: Child) -> int:
    """SIGKILL every process of the component (its process group), as when its container or pod dies."""
    assert child.process is not None
    pid = child.process.pid
    os.killpg(pid, signal.SIGKILL)
    log.warning(f"SIGKILL {child.name} (pid {pid})", extra={"component": child.name, "pid": pid})
    return pid


def _restarted(child: Child, old_pid: int) -> Callable[[], bool]:
    return lambda: child.running and child.process is not None and child.process.pid != old_pid


def _probe_stored(platform: RunningPlatform, timeout: float) -> float:
    """Seconds until a correction published now (straight to the bus) is stored: the whole write path works."""
    street = f"{PROBE_PREFIX}{uuid.uuid4().hex[:10]}"
    event = Event("correction.submitted", {"record": house(street, 0), "corrected_price": 400_000.0})
    started = time.monotonic()
    Publisher(platform.settings.gcp_project).publish(event, timeout=timeout)
    url = f"{platform.url('dbapp')}/retrieve/collection_2"
    wait_until(
        lambda: any(i["street"] == street for i in requests.get(url, timeout=5).json()["data"]),
        timeout,
        "a correction published after the kill being stored",
    )
    return time.monotonic() - started


def kill_processes(platform: RunningPlatform, names: list[str], timeout: float) -> float:
    """SIGKILL supervised components at once; seconds until they serve again (the write path too, for dbapp's)."""
    children = [platform.child(name) for name in names]
    killed_at = time.monotonic()
    old_pids = [_sigkill(child) for child in children]
    for name, child, old_pid in zip(names, children, old_pids, strict=True):
        wait_until(_restarted(child, old_pid), timeout, f"{name} being restarted")
        if name in READY_PATHS:
            url = f"http://127.0.0.1:{getattr(platform.stack.ports, name)}{READY_PATHS[name]}"
            wait_until(http_ok(url), timeout, f"{name} answering {READY_PATHS[name]}")
    if {"dbapp", "consumer"} & set(names):
        _probe_stored(platform, timeout)
    return time.monotonic() - killed_at


def _log_path(platform: RunningPlatform, name: str) -> Path:
    """The log file of a process the attack starts itself, in the stack's log folder."""
    if platform.stack.log_dir is None:
        raise RuntimeError(f"the chaos stack has no log folder for {name}.log (its Stack needs a log_dir)")
    return platform.stack.log_dir / f"{name}.log"


def _job(platform: RunningPlatform, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> int:
    env = {**platform.stack.env(), **(extra_env or {})}
    return run_job(name, [components.python_tool(args[0]), *args[1:]], env, _log_path(platform, name))


def _land_new_rows(platform: RunningPlatform) -> None:
    """Enough new rows for the data job to commit a version (the sample again, as a new landing object)."""
    landing = open_store(platform.settings.landing_bucket)
    landing.write(f"chaos/{uuid.uuid4().hex[:8]}.csv", SAMPLE_DATASET.read_bytes(), content_type="text/csv")


def check_versions_readable(platform: RunningPlatform) -> int:
    """Every committed dataset version: both splits read, checksums and row counts as their manifest says."""
    store = open_store(platform.settings.datasets_bucket)
    manifests = committed_versions(store)
    for manifest in manifests:
        for split in manifest.files:
            read_split(store, manifest, split)
    return len(manifests)


def kill_data_job(platform: RunningPlatform, timeout: float) -> float:
    """The data job SIGKILLs itself between a version's data and its manifest; the rerun must commit cleanly."""
    _land_new_rows(platform)
    before = check_versions_readable(platform)
    code = _job(platform, "data-job-killed", ["data-job"], {"DATA_JOB_FAILPOINT": "after_version_data"})
    if code != -signal.SIGKILL:
        raise NotRecovered(f"the data job was to be killed at its failpoint, it exited {code}")
    started = time.monotonic()
    code = _job(platform, "data-job-rerun", ["data-job"])
    if code != 0:
        raise NotRecovered(f"the data job's rerun exited {code}")
    after = check_versions_readable(platform)
    if after <= before:
        raise NotRecovered(f"the rerun committed no version ({before} before, {after} after)")
    return time.monotonic() - started


def kill_trainer(platform: RunningPlatform, timeout: float) -> float:
    """SIGKILL a trainer while it fits; the rerun must finish and a champion must still be served."""
    env = platform.stack.env()
    cmd = [components.python_tool("train"), "--family", "gradient_boosting"]
    child = Child("trainer-killed", cmd, env=env, log_path=_log_path(platform, "trainer-killed")).start()
    wait_until(lambda: "fitting" in child.tail() or not child.running, timeout, "the trainer starting to fit")
    if not child.running:
        raise NotRecovered(f"the trainer ended before it could be killed:\n{child.tail()}")
    _sigkill(child)
    child.wait(timeout=30)
    started = time.monotonic()
    code = _job(platform, "trainer-rerun", ["train", "--family", "gradient_boosting"])
    if code != 0:
        raise NotRecovered(f"the trainer's rerun exited {code}")
    wait_until(http_ok(f"{platform.url('mlapp')}/readyz"), timeout, "mlapp serving a champion")
    return time.monotonic() - started


def kill(platform: RunningPlatform, target: str, timeout: float) -> float:
    if target == "data-job":
        return kill_data_job(platform, timeout)
    if target == "trainer":
        return kill_trainer(platform, timeout)
    return kill_processes(platform, target.split("+"), timeout)
