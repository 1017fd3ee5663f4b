"""`make chaos` / `uv run chaos`: start the platform, put steady load on it through webapp's API (every write
with an Idempotency-Key, retried until accepted), SIGKILL each component in turn, let it recover, then check the
ledger against what dbapp stored, that every committed dataset version reads whole, and that a champion is
served. Prints one table; exits 1 if anything accepted was lost or stored twice, a component did not recover, or
no champion is served."""

from __future__ import annotations

import json
import logging
import sys
import time

import requests

from common.jsonlog import configure_logging
from common.settings import ConfigError
from platform_chaos import faults
from platform_chaos.config import ChaosConfig
from platform_chaos.ledger import Ledger, PhaseResult
from platform_chaos.load import Pace, start_load
from platform_chaos.report import render, rows, totals
from platform_chaos.running import NotRecovered, RunningPlatform, running_platform

DRAIN_TIMEOUT_SECONDS = 60.0


def attack(
    platform: RunningPlatform, config: ChaosConfig, ledger: Ledger, log: logging.Logger
) -> dict[str, PhaseResult]:
    results: dict[str, PhaseResult] = {}
    for target in config.targets:
        result = results.setdefault(target, PhaseResult(target))
        ledger.phase = target
        time.sleep(config.settle_seconds)
        try:
            result.recovery_seconds = faults.kill(platform, target, config.recovery_timeout)
            result.kills = 1
        except NotRecovered as exc:
            result.kills = 1
            result.note = f"NOT RECOVERED: {exc}"
            log.error(f"{target} did not recover: {exc}")
        log.info(f"{target}: killed and recovered", extra={"seconds": result.recovery_seconds})
        time.sleep(config.settle_seconds)
    ledger.phase = "after"
    return results


def settle(platform: RunningPlatform, ledger: Ledger) -> dict[str, dict[str, int]]:
    """What dbapp stored, once every accepted write has arrived (or the drain timeout passed)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while True:
        stored = platform.stored_streets()
        missing = [
            r
            for r in ledger.requests()
            if r.accepted and r.street not in stored["collection_1" if r.kind == "prediction" else "collection_2"]
        ]
        if not missing or time.monotonic() > deadline:
            return stored
        time.sleep(1.0)


def _kinds(refusals: dict[str, int]) -> dict[str, int]:
    """Refusals by kind: the status ("503") or "no answer", without the reasons."""
    kinds: dict[str, int] = {}
    for refusal, count in refusals.items():
        kind = refusal.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + count
    return kinds


def main() -> int:
    log = configure_logging("chaos")
    try:
        config = ChaosConfig.from_env()
    except ConfigError as exc:
        log.error(str(exc))
        return 2
    ledger = Ledger()
    with running_platform(config) as platform:
        log.info("load started", extra={"clients": config.clients, "targets": list(config.targets)})
        pace = Pace(config.rate, config.give_up_seconds)
        stop, clients = start_load(config.clients, platform.webapp_url, ledger, pace)
        try:
            results = attack(platform, config, ledger, log)
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=config.give_up_seconds + 30)
        results = ledger.verdict(settle(platform, ledger), results)
        versions = faults.check_versions_readable(platform)
        champion = requests.get(f"{platform.url('mlapp')}/model-info", timeout=10)
        served = champion.json().get("version") if champion.status_code == 200 else None
    order = ["warm-up", *config.targets, "after"]
    table = rows(results, order)
    sys.stdout.write(render(table) + "\n")
    accepted, lost, duplicated = totals(results)
    unrecovered = [r.phase for r in results.values() if r.note.startswith("NOT RECOVERED")]
    gave_up = sum(1 for r in ledger.requests() if r.status is None)
    summary = {
        "accepted": accepted,
        "lost": lost,
        "duplicated": duplicated,
        "gave_up": gave_up,
        "dataset_versions_readable": versions,
        "champion_served": served,
    }
    sys.stdout.write(json.dumps({**summary, "unrecovered": unrecovered}) + "\n")
    refusals = {r.phase: dict(r.refusals.most_common()) for r in results.values() if r.refusals}
    sys.stdout.write(json.dumps({"refusals": {p: _kinds(r) for p, r in refusals.items()}}) + "\n")
    result = {"table": table, **summary, "refusals": refusals}
    (config.work_dir / "chaos-result.json").write_text(json.dumps(result, indent=1))
    return 1 if lost or duplicated or unrecovered or gave_up or served is None else 0


if __name__ == "__main__":
    raise SystemExit(main())
