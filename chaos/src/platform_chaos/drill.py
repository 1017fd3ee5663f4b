"""`failover-drill` (`make failover-drill`): start `make up-regions` on free ports, put steady load of predictions
and corrections (each with an Idempotency-Key) on the global front, SIGKILL region-a's webapp and mlapp and kill
them again whenever they come back for DRILL_OUTAGE_SECONDS, then let the supervisor bring them back, and print a
timeline and one table: seconds to detect, seconds to move traffic, requests that failed, accepted corrections
lost, seconds to fail back. Exit 0 when every target holds.

Targets (issue 15): region-a reads unhealthy and a failover is counted within 30 s of the kill; at most 2% of all
requests fail; every correction answered 2xx is stored exactly once; traffic returns to region-a.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from common.jsonlog import configure_logging
from common.settings import ConfigError
from local_platform.processes import free_port
from platform_chaos.config import DrillConfig
from platform_chaos.drill_report import Outcome, failback_at, outcome, print_report
from platform_chaos.drill_watch import Watcher, hold_down, sigkill_listening
from platform_chaos.ledger import Ledger
from platform_chaos.load import Pace, start_load
from platform_chaos.running import stored_streets

log = logging.getLogger("chaos.drill")
READY_LINE = "The regions are running"
PORTS = ("PUBSUB_PORT", "MLFLOW_PORT", "DBAPP_PORT", "MLAPP_PORT", "WEBAPP_PORT", "DISPATCHER_PORT",
         "REGION_B_WEBAPP_PORT", "REGION_B_MLAPP_PORT", "REGION_B_DBAPP_PORT", "FRONT_PORT", "FAILOVER_PORT",
         "HAPROXY_RUNTIME_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT")  # fmt: skip


def start_regions(config: DrillConfig) -> tuple[subprocess.Popen[bytes], dict[str, str], Path]:
    shutil.rmtree(config.work_dir, ignore_errors=True)
    config.work_dir.mkdir(parents=True)
    env = {**os.environ, "PLATFORM_DATA_DIR": str(config.work_dir / "data"), "LOG_FORMAT": "json"}
    env.update({name: str(free_port()) for name in PORTS})
    log_path = config.work_dir / "up-regions.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "local_platform.cli", "up-regions"],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, env, log_path


def wait_ready(process: subprocess.Popen[bytes], log_path: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY_LINE in log_path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"make up-regions exited with {process.returncode}; see {log_path}")
        time.sleep(1)
    raise RuntimeError(f"make up-regions was not ready within {timeout:.0f} s; see {log_path}")


def stop_regions(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def run_drill(config: DrillConfig, env: dict[str, str]) -> Outcome:
    front = f"http://127.0.0.1:{env['FRONT_PORT']}"
    started = time.monotonic()
    watcher = Watcher(f"http://127.0.0.1:{env['FAILOVER_PORT']}/metrics", started)
    watcher.start()
    ledger = Ledger()
    ledger.phase = "before the kill"
    stop_load, clients = start_load(config.clients, front, ledger, Pace(config.rate, give_up_seconds=60))
    time.sleep(config.kill_after_seconds)
    killed_at = time.monotonic() - started
    ledger.phase = "after the kill"
    region_a = {int(env["WEBAPP_PORT"]): "region-a's webapp", int(env["MLAPP_PORT"]): "region-a's mlapp"}
    for port, what in region_a.items():
        sigkill_listening(port, what)
    kills = hold_down(region_a, config.outage_seconds)
    outage_ended = time.monotonic() - started
    log.info(f"the outage ends ({kills} restarts killed again in {config.outage_seconds:g} s): restarts are left alone")
    wait_for_end(config, watcher, killed_at, started)
    stop_load.set()
    for client in clients:
        client.join(timeout=90)
    watcher.stop.set()
    watcher.join(timeout=5)
    dbapp = f"http://127.0.0.1:{env['DBAPP_PORT']}"
    stored = wait_stored(ledger, dbapp)
    return outcome(ledger, stored, watcher.samples, killed_at, outage_ended)


def wait_for_end(config: DrillConfig, watcher: Watcher, killed_at: float, started: float) -> None:
    """Until DRILL_SECONDS of load, or DRILL_END_AFTER_FAILBACK_SECONDS after traffic is back on region-a."""
    settle = config.end_after_failback_seconds
    while (elapsed := time.monotonic() - started) < config.duration_seconds:
        back = failback_at(list(watcher.samples), killed_at)
        if settle is not None and back is not None and elapsed >= back + settle:
            log.info(f"traffic is back on region-a since {back:.1f} s: the load ends {settle:g} s after")
            return
        time.sleep(0.5)


def wait_stored(ledger: Ledger, dbapp_url: str, timeout: float = 60) -> dict[str, dict[str, int]]:
    """What dbapp holds once every accepted request's document is there (or after `timeout`)."""
    accepted = [r for r in ledger.requests() if r.accepted]
    deadline = time.monotonic() + timeout
    while True:
        stored = stored_streets(dbapp_url)
        collections = {"prediction": "collection_1", "correction": "collection_2"}
        missing = [r for r in accepted if not stored.get(collections[r.kind], {}).get(r.street)]
        if not missing or time.monotonic() > deadline:
            return stored
        time.sleep(1)


def main() -> None:
    configure_logging("failover-drill")
    try:
        config = DrillConfig.from_env()
    except ConfigError as exc:
        raise SystemExit(f"failover-drill: {exc}") from None
    process, env, log_path = start_regions(config)
    try:
        log.info(f"starting make up-regions (logs: {log_path})")
        wait_ready(process, log_path)
        result = run_drill(config, env)
    finally:
        stop_regions(process)
    print_report(result)
    (config.work_dir / "drill.json").write_text(json.dumps(result.as_dict(), indent=2))
    sys.exit(0 if result.passed else 1)


if __name__ == "__main__":
    main()
