"""What `make bench` measures and for how long, read once from the environment.

Defaults are the full benchmark of issue 5; the smoke test of the harness shrinks every size and duration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.settings import ConfigError, env_float, env_int

REPO_ROOT = Path(__file__).resolve().parents[3]
SECTIONS = ("data_job", "training", "serving", "batch", "webapp")


def _int_list(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name)
    if not raw:
        return default
    try:
        values = tuple(int(part) for part in raw.replace(",", " ").split())
    except ValueError:
        raise ConfigError(f"{name} must be whole numbers separated by commas, got {raw!r}") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{name} must list positive numbers, got {raw!r}")
    return values


@dataclass(frozen=True)
class BenchConfig:
    duration_seconds: float  # one wrk run
    rounds: int  # A/B rounds: every server is measured once per round, in alternating order
    concurrencies: tuple[int, ...]
    data_rows: tuple[int, ...]  # the data job's new-row counts; training uses the largest
    batch_records: int  # records per POST /predict/batch
    workers: int  # gunicorn workers for every server (= cores)
    sections: tuple[str, ...]
    work_dir: Path  # scratch: generated data, the bench's own platform data, logs (deleted at the start)
    results_dir: Path
    train_threads: int = 1  # TRAIN_THREADS handed to the trainer (default: every core)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BenchConfig:
        env = os.environ if env is None else env
        sections = tuple(env.get("BENCH_SECTIONS", ",".join(SECTIONS)).replace(",", " ").split())
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown:
            raise ConfigError(f"BENCH_SECTIONS: unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
        return cls(
            duration_seconds=env_float(env, "BENCH_DURATION", 10.0, minimum=0, exclusive=True),
            rounds=env_int(env, "BENCH_ROUNDS", 2, minimum=1),
            concurrencies=_int_list(env, "BENCH_CONCURRENCY", (16, 64)),
            data_rows=_int_list(env, "BENCH_DATA_ROWS", (100_000, 1_000_000)),
            batch_records=env_int(env, "BENCH_BATCH_RECORDS", 1000, minimum=1),
            workers=env_int(env, "BENCH_WORKERS", os.cpu_count() or 1, minimum=1),
            sections=sections,
            work_dir=Path(env.get("BENCH_WORK_DIR", str(REPO_ROOT / "bench" / ".work"))).resolve(),
            results_dir=Path(env.get("BENCH_RESULTS_DIR", str(REPO_ROOT / "bench" / "results"))).resolve(),
            train_threads=env_int(env, "TRAIN_THREADS", os.cpu_count() or 1, minimum=1),
        )
