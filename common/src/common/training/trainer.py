"""The one trainer every model family runs.

`train_family(spec, settings)`:
1. finds the latest committed dataset version N; if this family already has a finished run for N (for this
   registered model), it trains nothing: a (family, dataset version) pair is never trained twice. When that
   run's promotion decision was deferred (step 4), it decides again for the version that run registered;
2. trains Pipeline([features, model]) on the train splits of every committed version <= N;
3. logs params, metrics and the model to MLflow (experiment = family name) and registers a version of the
   model name, tagged with family, dataset version and holdout metrics;
4. scores the candidate and the current champion on the same holdout (the valid splits of every committed
   version <= N) and moves the champion alias only when `decide_promotion` says so; the decision and its
   reason are recorded as model-version and run tags. When the champion could not be scored because of an
   infrastructure fault (`common.training.faults`), the decision is "deferred": nothing moves, and the
   result says so (the `train` command then exits with its own code);
5. on promotion, publishes a `model.promoted` event (when a publisher is given).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow import MlflowClient
from mlflow.entities import Run
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from common import registry
from common.blobstore import open_store
from common.bus import Publisher
from common.dataset_versions import committed_versions, load_versions
from common.features import HouseFeatures
from common.schema import FIELD_NAMES, PRICE
from common.settings import ConfigError, Settings
from common.training.champion import Candidate, conclude
from common.training.deferred import is_deferred, logged_candidate, registered_version
from common.training.evaluation import Evaluation, evaluate, median_baseline_mae
from common.training.family import FamilySpec
from common.training.promotion import Decision
from common.training.tracking import (
    RUN_TAG_MODEL_NAME,
    ensure_experiment,
    find_finished_run,
    signature,
    using_tracking_uri,
)

log = logging.getLogger(__name__)

PUBLISH_EVENTS_ENV = "PUBLISH_EVENTS"
# OpenMP threads for fitting and scoring (HistGradientBoosting). One is the robust default for this data size:
# spinning OpenMP workers on a shared, busy node can make a 2-second fit take minutes.
TRAIN_THREADS_ENV = "TRAIN_THREADS"
MODEL_ARTIFACT_NAME = "model"


@dataclass(frozen=True)
class TrainResult:
    family: str
    # "trained", "redecided" (a deferred decision taken again), "skipped" (already trained for this dataset
    # version) or "no_data"
    status: str
    dataset_version: int | None = None
    run_id: str | None = None
    model_version: int | None = None
    holdout: Evaluation | None = None
    decision: Decision | None = None
    event_id: str | None = None


def publishing_enabled(env: Mapping[str, str] | None = None) -> bool:
    """`PUBLISH_EVENTS=false` (or 0/no/off) turns the `model.promoted` event off; it is on by default."""
    env = os.environ if env is None else env
    return env.get(PUBLISH_EVENTS_ENV, "true").strip().lower() not in {"0", "false", "no", "off"}


def train_threads(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    raw = env.get(TRAIN_THREADS_ENV, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{TRAIN_THREADS_ENV} must be a whole number >= 1, got {raw!r}")
    return int(raw)


def build_pipeline(spec: FamilySpec) -> Pipeline:
    """Features and regressor in one estimator: what is logged is exactly what serves."""
    return Pipeline([("features", HouseFeatures(**spec.features)), ("model", spec.estimator())])


def split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return frame.loc[:, list(FIELD_NAMES)], frame[PRICE.name].to_numpy(dtype=np.float64)


def untrusted_types(pipeline: Pipeline) -> list[str]:
    """Classes in the fitted pipeline that `common.registry.load_model` would refuse to load."""
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    return sorted(set(found) - set(registry.TRUSTED_TYPES))


def pip_requirements() -> list[str]:
    """Pinned explicitly: MLflow's inference would load the model in a subprocess just to guess these."""
    import skops

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
    ]


class _Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def seconds(self) -> float:
        return round(time.monotonic() - self.start, 3)


def train_family(spec: FamilySpec, settings: Settings, *, publisher: Publisher | None = None) -> TrainResult:
    """Train, register and maybe promote one family on the latest committed dataset version (see module doc)."""
    with threadpool_limits(limits=train_threads(), user_api="openmp"):
        return _train_family(spec, settings, publisher)


def _train_family(spec: FamilySpec, settings: Settings, publisher: Publisher | None) -> TrainResult:
    total = _Timer()
    context: dict[str, Any] = {"family": spec.name, "model_name": settings.model_name}
    store = open_store(settings.datasets_bucket)
    manifests = committed_versions(store)
    if not manifests:
        log.info("no committed dataset version yet: nothing to train", extra={**context, "bucket": store.url})
        return TrainResult(spec.name, "no_data")
    version = manifests[-1].version
    context["dataset_version"] = version

    client = registry.client(settings.mlflow_tracking_uri)
    experiment_id = ensure_experiment(client, spec.name)
    existing = find_finished_run(client, experiment_id, settings.model_name, version)
    if existing is not None and not is_deferred(existing):
        log.info(
            "already trained on this dataset version: nothing to do", extra={**context, "run_id": existing.info.run_id}
        )
        return TrainResult(spec.name, "skipped", version, run_id=existing.info.run_id)

    step = _Timer()
    log.info("loading dataset versions", extra={**context, "bucket": store.url})
    train, holdout, versions = load_versions(store, up_to=version)
    x_train, y_train = split_xy(train)
    x_holdout, y_holdout = split_xy(holdout)
    log.info(
        "loaded dataset versions",
        extra={
            **context,
            "versions": versions,
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "seconds": step.seconds(),
        },
    )
    if existing is not None:
        return _decide_again(spec, settings, client, existing, (x_holdout, y_holdout), context, publisher)

    step = _Timer()
    pipeline = build_pipeline(spec)
    log.info("fitting", extra={**context, "params": dict(spec.params), "features": dict(spec.features)})
    pipeline.fit(x_train, y_train)
    fit_seconds = step.seconds()
    train_eval = evaluate(y_train, pipeline.predict(x_train))
    holdout_eval = evaluate(y_holdout, pipeline.predict(x_holdout))
    baseline_mae = median_baseline_mae(y_train, y_holdout)
    log.info(
        "fitted",
        extra={
            **context,
            "seconds": fit_seconds,
            "train_mae": train_eval.mae,
            "holdout_mae": holdout_eval.mae,
            "baseline_median_mae": baseline_mae,
        },
    )
    unknown = untrusted_types(pipeline)
    if unknown:
        raise TypeError(
            f"family {spec.name}: the fitted model contains {unknown}, which common.registry.TRUSTED_TYPES does not "
            "list; review these classes and add them there, or use other estimators"
        )

    run_tags = {
        registry.TAG_FAMILY: spec.name,
        registry.TAG_DATASET_VERSION: str(version),
        RUN_TAG_MODEL_NAME: settings.model_name,
    }
    with (
        using_tracking_uri(settings.mlflow_tracking_uri),
        mlflow.start_run(experiment_id=experiment_id, run_name=f"{spec.name}-v{version}", tags=run_tags) as run,
    ):
        context["run_id"] = run.info.run_id
        mlflow.log_params(
            {
                "family": spec.name,
                "dataset_version": version,
                "dataset_versions": ",".join(map(str, versions)),
                "datasets_bucket": store.url,
                **{f"model.{k}": v for k, v in spec.params.items()},
                **{f"features.{k}": v for k, v in pipeline.named_steps["features"].get_params().items()},
            }
        )
        mlflow.log_metrics(
            {
                **train_eval.metrics("train"),
                **holdout_eval.metrics("holdout"),
                "baseline_median_mae": baseline_mae,
                "fit_seconds": fit_seconds,
            }
        )

        step = _Timer()
        log.info("logging the model to MLflow", extra=context)
        info = mlflow.sklearn.log_model(
            pipeline,
            name=MODEL_ARTIFACT_NAME,
            skops_trusted_types=list(registry.TRUSTED_TYPES),
            pip_requirements=pip_requirements(),
            signature=signature(pipeline, x_train),
        )
        version_tags = {
            registry.TAG_FAMILY: spec.name,
            registry.TAG_DATASET_VERSION: version,
            "dataset_versions": ",".join(map(str, versions)),
            "train_rows": len(train),
            "baseline_median_mae": baseline_mae,
            **holdout_eval.metrics("holdout"),
        }
        registered = registry.register_version(
            client,
            settings.model_name,
            info.model_uri,
            run_id=run.info.run_id,
            model_id=info.model_id,
            tags=version_tags,
        )
        model_version = int(registered.version)
        context["model_version"] = model_version
        log.info("registered the model", extra={**context, "seconds": step.seconds()})

        candidate = Candidate(spec.name, version, model_version, run.info.run_id, holdout_eval, baseline_mae)
        decision, event_id = conclude(client, settings, candidate, x_holdout, y_holdout, context, publisher)
    run_url = f"{settings.mlflow_tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run.info.run_id}"
    log.info(
        "training finished",
        extra={**context, "decision": decision.label, "seconds": total.seconds(), "run_url": run_url},
    )
    return TrainResult(spec.name, "trained", version, run.info.run_id, model_version, holdout_eval, decision, event_id)


def _decide_again(
    spec: FamilySpec,
    settings: Settings,
    client: MlflowClient,
    run: Run,
    holdout: tuple[pd.DataFrame, np.ndarray],
    context: dict[str, Any],
    publisher: Publisher | None,
) -> TrainResult:
    """`run` registered a version for this dataset version but deferred its decision: decide now (see
    `common.training.deferred`); nothing is retrained."""
    version, run_id = int(run.data.tags[registry.TAG_DATASET_VERSION]), run.info.run_id
    model_version = registered_version(client, settings.model_name, run_id)
    if model_version is None:
        log.warning("the deferred run registered no version: nothing to decide", extra={**context, "run_id": run_id})
        return TrainResult(spec.name, "skipped", version, run_id=run_id)
    context.update(run_id=run_id, model_version=model_version)
    candidate = logged_candidate(spec.name, version, run, model_version)
    log.info("deciding again for the version whose promotion was deferred", extra=context)
    decision, event_id = conclude(client, settings, candidate, *holdout, context, publisher)
    return TrainResult(spec.name, "redecided", version, run_id, model_version, candidate.holdout, decision, event_id)
