"""Training time per model family on the largest versioned dataset, and the champion the serving sections use.

Each family runs as the real `train --family <name>` against the bench's MLflow, one after the other, as
`make pipeline` runs them. The figures inside a run (rows, fit time, holdout MAE) come from the trainer's own
JSON log lines. `TRAIN_THREADS` (OpenMP threads for gradient boosting) is taken from the environment when
set, else one per core: the bench runs one trainer at a time on an otherwise idle machine, where that is
faster than the trainer's own default of 1 (which protects shared, busy nodes from OpenMP spin-waiting).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

from common import registry
from common.settings import Settings
from common.training import discover_families
from local_platform.stack import SAMPLE_DATASET, SAMPLE_OBJECT
from platform_bench.context import BenchContext
from platform_bench.data_job import version_csv
from platform_bench.jobs import JobRun, run_job
from platform_bench.report import Row

log = logging.getLogger(__name__)

SECTION = "training"


def _version_sample(ctx: BenchContext) -> str:
    """The sample dataset versioned by the data job, as `make up` does on an empty platform."""
    return version_csv(ctx, "sample", SAMPLE_OBJECT, SAMPLE_DATASET.read_bytes()).datasets_bucket


def _settings(ctx: BenchContext) -> Settings:
    return Settings.from_env("bench", ctx.env(), require_project=False)


def _logged(job: JobRun, message: str) -> dict[str, Any]:
    """The trainer's log line with this message; a run without it did not train (e.g. skipped)."""
    for entry in job.log_entries():
        if entry.get("message") == message:
            return entry
    raise RuntimeError(f"the trainer did not log {message!r}: it did not train (log {job.log_path})")


def _train(ctx: BenchContext, family: str, datasets: str) -> Row:
    threads = str(ctx.config.train_threads)
    env = {**ctx.env(), "DATASETS_BUCKET": datasets, "TRAIN_THREADS": threads, "PUBLISH_EVENTS": "false"}
    log.info("training", extra={"family": family, "datasets": datasets, "train_threads": env["TRAIN_THREADS"]})
    job = run_job("train", ["--family", family], env, ctx.logs_dir / f"train-{family}.log")
    loaded, fitted = _logged(job, "loaded dataset versions"), _logged(job, "fitted")
    registered, decided = _logged(job, "registered the model"), _logged(job, "promotion decided")
    values = {
        "family": family,
        "seconds": round(job.seconds, 2),
        "cpu_seconds": round(job.cpu_seconds, 2),
        "train_threads": int(env["TRAIN_THREADS"]),
        "train_rows": loaded["train_rows"],
        "holdout_rows": loaded["holdout_rows"],
        "load_seconds": loaded["seconds"],
        "fit_seconds": fitted["seconds"],
        "log_model_seconds": registered["seconds"],
        "promotion_seconds": decided["seconds"],
        "holdout_mae": fitted["holdout_mae"],
        "decision": decided["decision"],
        "peak_rss_gib": round(job.peak_rss_gib, 3),
    }
    log.info("training measured", extra=values)
    summary = (
        f"{job.seconds:.1f} s (fit {fitted['seconds']:.1f} s) on {loaded['train_rows']:,} rows, "
        f"holdout MAE {fitted['holdout_mae']:,.0f}, TRAIN_THREADS={env['TRAIN_THREADS']}"
    )
    return Row(SECTION, family, summary, values)


def _train_all(ctx: BenchContext, datasets: str) -> list[Row]:
    """Every family (`train --list`), then the champion they left, stored in `ctx.shared["champion"]`."""
    rows = [_train(ctx, family, datasets) for family in discover_families(Path(ctx.env()["MODELS_DIR"]))]
    settings = _settings(ctx)
    version = registry.get_champion(
        registry.client(settings.mlflow_tracking_uri), settings.model_name, settings.champion_alias
    )
    if version is None:
        raise RuntimeError(f"no {settings.model_name}@{settings.champion_alias} after training every family")
    described = registry.describe(version)
    ctx.shared["champion"] = {key: described[key] for key in ("name", "version", "family")}
    log.info("champion", extra={"champion": ctx.shared["champion"]})
    return rows


def ensure_champion(ctx: BenchContext) -> dict[str, Any]:
    """The champion the training section promoted; without that section, every family trained on the
    versioned sample dataset (a minute, not the full-size training)."""
    if "champion" not in ctx.shared:
        _train_all(ctx, _version_sample(ctx))
    return cast(dict[str, Any], ctx.shared["champion"])


def run(ctx: BenchContext) -> list[Row]:
    datasets = ctx.shared.get("versioned_datasets") or _version_sample(ctx)
    return _train_all(ctx, datasets)
