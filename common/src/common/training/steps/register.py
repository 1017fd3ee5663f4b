"""Step 4: params, metrics, the reference profile of the train rows (`common.drift`, read by mlapp to measure
input drift) and the fitted model logged to the job's run, and a version of the registered model created from it,
tagged with what the serving app and the promotion need.

Every write names the run explicitly; no run is made the process's active run. `mlflow.sklearn.log_model`
has no client form: it is called with the run id and the id of a logged model created here in the run's
experiment (without that id, MLflow 3 files the model under the process's default experiment whenever no
run is active), inside `using_tracking_uri` because it reads the process-wide tracking URI."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, cast

import mlflow.sklearn
import numpy as np
import pandas as pd
import sklearn
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.models.model import ModelInfo
from mlflow.tracking.context.registry import resolve_tags

from common import registry
from common.compiled import Verdict
from common.drift import reference_profile
from common.training.evaluation import Evaluation
from common.training.family import FamilySpec
from common.training.job import Job, seconds_since
from common.training.steps.evaluate import Scores
from common.training.steps.fit import Fitted
from common.training.steps.load import Dataset
from common.training.tracking import signature, using_tracking_uri

log = logging.getLogger(__name__)

MODEL_ARTIFACT_NAME = "model"


@dataclass(frozen=True)
class Candidate:
    """A registered model version waiting for its promotion decision, with its scores on the holdout."""

    job: Job
    model_version: int
    run_id: str
    holdout: Evaluation
    baseline_mae: float
    serving_form: Verdict = Verdict.NOT_COMPILED  # see common.compiled; DISAGREES is never promoted

    def extra(self, **more: Any) -> dict[str, Any]:
        """Log fields: the job's, the run and the model version, then `more`."""
        return self.job.extra(run_id=self.run_id, model_version=self.model_version, **more)


def pip_requirements() -> list[str]:
    """Pinned explicitly: MLflow's inference would load the model in a subprocess just to guess these."""
    import skops

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
    ]


def run_params(job: Job, spec: FamilySpec, data: Dataset, fitted: Fitted) -> dict[str, Any]:
    return {
        "family": job.family,
        "dataset_version": job.dataset_version,
        "dataset_versions": ",".join(map(str, data.versions)),
        "datasets_bucket": data.bucket,
        **{f"model.{k}": v for k, v in spec.params.items()},
        **{f"features.{k}": v for k, v in fitted.pipeline.named_steps["features"].get_params().items()},
    }


def run_metrics(fitted: Fitted, scores: Scores) -> dict[str, float | int]:
    return {
        **scores.train.metrics("train"),
        **scores.holdout.metrics("holdout"),
        "baseline_median_mae": scores.baseline_mae,
        "fit_seconds": fitted.seconds,
    }


def version_tags(job: Job, data: Dataset, scores: Scores) -> dict[str, Any]:
    return {
        registry.TAG_FAMILY: job.family,
        registry.TAG_DATASET_VERSION: job.dataset_version,
        "dataset_versions": ",".join(map(str, data.versions)),
        "train_rows": len(data.train),
        "baseline_median_mae": scores.baseline_mae,
        registry.TAG_SERVING_FORM: scores.serving.verdict.value,
        **scores.holdout.metrics("holdout"),
    }


def register_candidate(
    client: MlflowClient,
    tracking_uri: str,
    run: Run,
    job: Job,
    spec: FamilySpec,
    data: Dataset,
    fitted: Fitted,
    scores: Scores,
) -> Candidate:
    run_id = run.info.run_id
    params = run_params(job, spec, data, fitted)
    now = int(time.time() * 1000)  # milliseconds since the epoch, as MLflow stamps metrics
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in run_metrics(fitted, scores).items()],
        params=[Param(k, str(v)) for k, v in params.items()],
        tags=[RunTag(registry.TAG_SERVING_FORM, scores.serving.verdict.value)],  # read again by a deferred decision
    )
    profile_path = registry.log_profile(client, run_id, reference_profile(data.train.x))
    started = time.monotonic()
    log.info("logging the model to MLflow", extra=job.extra(run_id=run_id))
    info = _log_model(client, tracking_uri, run, fitted.pipeline, data.train.x, params)
    registered = registry.register_version(
        client,
        job.model_name,
        info.model_uri,
        run_id=run_id,
        model_id=info.model_id,
        tags={**version_tags(job, data, scores), registry.TAG_REFERENCE_PROFILE: profile_path},
    )
    candidate = Candidate(
        job, int(registered.version), run_id, scores.holdout, scores.baseline_mae, scores.serving.verdict
    )
    log.info("registered the model", extra=candidate.extra(seconds=seconds_since(started)))
    return candidate


def _log_model(
    client: MlflowClient, tracking_uri: str, run: Run, pipeline: Any, x_train: pd.DataFrame, params: dict[str, Any]
) -> ModelInfo:
    """The pipeline as an MLflow model of `run` (see the module doc). The logged model carries the run's
    params and the context tags, as MLflow gives a model it creates itself."""
    model = client.create_logged_model(
        run.info.experiment_id,
        name=MODEL_ARTIFACT_NAME,
        source_run_id=run.info.run_id,
        params={k: str(v) for k, v in params.items()},
        tags=resolve_tags(),
    )
    with using_tracking_uri(tracking_uri):
        info = mlflow.sklearn.log_model(
            pipeline,
            name=MODEL_ARTIFACT_NAME,
            model_id=model.model_id,
            run_id=run.info.run_id,  # passed on to mlflow.models.Model.log
            skops_trusted_types=list(registry.TRUSTED_TYPES),
            pip_requirements=pip_requirements(),
            signature=signature(pipeline, x_train),
        )
        return cast(ModelInfo, info)
