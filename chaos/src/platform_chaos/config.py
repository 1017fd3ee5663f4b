"""The chaos run's settings, read once from the environment; a bad value stops it naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.settings import ConfigError, env_float, env_int

REPO_ROOT = Path(__file__).resolve().parents[3]
# The order matters: the data job's kill leaves a new dataset version to train on, which the trainer's kill needs.
# "dbapp+consumer": both of dbapp's processes at once, as when its pod dies.
TARGETS = ("dbapp", "consumer", "dbapp+consumer", "webapp", "mlapp", "mlflow", "data-job", "trainer")
SKIPPED = {
    "pubsub": "not killed: the local emulator keeps messages in memory, so killing it loses what it holds by design; "
    "Pub/Sub in production stores every acknowledged message durably",
}


@dataclass(frozen=True)
class ChaosConfig:
    targets: tuple[str, ...]
    clients: int  # load threads, each alternating a prediction and a correction
    rate: float  # requests a second each client starts at most: steady load, not a flood the consumer cannot follow
    settle_seconds: float  # load before and after each kill
    recovery_timeout: float  # longest wait for a killed component to serve again
    give_up_seconds: float  # a client retries one request (same Idempotency-Key) this long at most
    work_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ChaosConfig:
        env = os.environ if env is None else env
        targets = tuple(env.get("CHAOS_TARGETS", " ".join(TARGETS)).replace(",", " ").split())
        unknown = sorted(set(targets) - set(TARGETS))
        if unknown or not targets:
            raise ConfigError(f"CHAOS_TARGETS: unknown or empty {unknown}; choose from {', '.join(TARGETS)}")
        return cls(
            targets=tuple(t for t in TARGETS if t in targets),
            clients=env_int(env, "CHAOS_CLIENTS", 4, minimum=1, maximum=64),
            rate=env_float(env, "CHAOS_RATE", 10.0, minimum=0, exclusive=True),
            settle_seconds=env_float(env, "CHAOS_SETTLE_SECONDS", 8.0, minimum=0),
            recovery_timeout=env_float(env, "CHAOS_RECOVERY_TIMEOUT", 30.0, minimum=1),
            give_up_seconds=env_float(env, "CHAOS_GIVE_UP_SECONDS", 120.0, minimum=1),
            work_dir=Path(env.get("CHAOS_WORK_DIR", str(REPO_ROOT / "chaos" / ".work"))).resolve(),
        )


@dataclass(frozen=True)
class DrillConfig:
    """`make failover-drill`: the load, when region-a is killed, how long the run lasts."""

    duration_seconds: float  # DRILL_SECONDS: steady load this long in all
    kill_after_seconds: float  # DRILL_KILL_AFTER_SECONDS: region-a's webapp and mlapp are SIGKILLed this far in
    outage_seconds: float  # DRILL_OUTAGE_SECONDS: killed again whenever they come back, this long after the kill
    clients: int  # DRILL_CLIENTS: load threads, each alternating a prediction and a correction
    rate: float  # DRILL_RATE: requests a second each client starts at most
    work_dir: Path  # DRILL_WORK_DIR: the regions' data and every component's log
    # DRILL_END_AFTER_FAILBACK_SECONDS: end the load this long after traffic is back on region-a, before
    # DRILL_SECONDS if that comes first (unset: the load runs DRILL_SECONDS)
    end_after_failback_seconds: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DrillConfig:
        env = os.environ if env is None else env
        duration = env_float(env, "DRILL_SECONDS", 90.0, minimum=10)
        kill_after = env_float(env, "DRILL_KILL_AFTER_SECONDS", 20.0, minimum=1)
        outage = env_float(env, "DRILL_OUTAGE_SECONDS", 10.0, minimum=0)
        if kill_after + outage >= duration:
            raise ConfigError(
                f"DRILL_KILL_AFTER_SECONDS ({kill_after:g}) plus DRILL_OUTAGE_SECONDS ({outage:g}) must be less than "
                f"DRILL_SECONDS ({duration:g})"
            )
        return cls(
            duration_seconds=duration,
            kill_after_seconds=kill_after,
            outage_seconds=outage,
            clients=env_int(env, "DRILL_CLIENTS", 2, minimum=1, maximum=32),
            rate=env_float(env, "DRILL_RATE", 5.0, minimum=0, exclusive=True),
            work_dir=Path(env.get("DRILL_WORK_DIR", str(REPO_ROOT / "chaos" / ".drill"))).resolve(),
            end_after_failback_seconds=env_float(env, "DRILL_END_AFTER_FAILBACK_SECONDS", None, minimum=0),
        )
