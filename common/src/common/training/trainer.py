"""The one trainer every model family runs: a short pipeline of named steps (`common.training.steps`).

`train_family(spec, settings)`:
1. finds the latest committed dataset version N; if this family already has a finished run for N (for this
   registered model), it trains nothing: a (family, dataset version) pair is never trained twice. When that
   run's promotion decision was deferred (see `decide`), it decides again for the version that run registered;
2. load: the train splits of every committed version <= N, and the holdout (their valid splits);
3. fit: Pipeline([features, model]) on the train rows;
4. evaluate: train and holdout scores, and the training-median baseline;
5. register: in a run of the family's experiment (experiment = family name), params, metrics and the model;
   a version of the model name, tagged with family, dataset version and holdout metrics;
6. decide: the candidate and the current champion scored on the same holdout; the champion alias moves only
   when `decide_promotion` says so; the decision and its reason are recorded as model-version and run tags.
   When the champion could not be scored because of an infrastructure fault (`common.training.faults`), the
   decision is "deferred": nothing moves, and the result says so (the `train` command then exits with its
   own code);
7. publish: on promotion, a `model.promoted` event (when a publisher is given).
The run ends FINISHED only after step 7, FAILED if any of steps 5-7 raised.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from mlflow import MlflowClient
from mlflow.entities import Run
from threadpoolctl import threadpool_limits

from common import registry
from common.blobstore import open_store
from common.bus import Publisher
from common.settings import Settings
from common.training.deferred import is_deferred, logged_candidate, registered_version
from common.training.evaluation import Evaluation
from common.training.family import FamilySpec
from common.training.job import Job, seconds_since
from common.training.promotion import Decision
from common.training.steps.decide import decide
from common.training.steps.evaluate import evaluate_fit
from common.training.steps.fit import fit_pipeline
from common.training.steps.load import Rows, latest_version, load_dataset
from common.training.steps.publish import publish_promotion
from common.training.steps.register import register_candidate
from common.training.tracking import ensure_experiment, find_finished_run, open_run

__all__ = ["TrainResult", "TrainStatus", "train_family"]

log = logging.getLogger(__name__)


class TrainStatus(StrEnum):
    TRAINED = "trained"
    REDECIDED = "redecided"  # a deferred decision taken again
    SKIPPED = "skipped"  # already trained for this dataset version
    NO_DATA = "no_data"  # no committed dataset version yet


@dataclass(frozen=True)
class TrainResult:
    family: str
    status: TrainStatus
    dataset_version: int | None = None
    run_id: str | None = None
    model_version: int | None = None
    holdout: Evaluation | None = None
    decision: Decision | None = None
    event_id: str | None = None


def train_family(
    spec: FamilySpec, settings: Settings, *, publisher: Publisher | None = None, threads: int = 1
) -> TrainResult:
    """Train, register and maybe promote one family on the latest committed dataset version (see module doc).
    `threads` caps OpenMP's threads for fitting and scoring (`TrainerConfig.train_threads`)."""
    with threadpool_limits(limits=threads, user_api="openmp"):
        return _train_family(spec, settings, publisher)


def _train_family(spec: FamilySpec, settings: Settings, publisher: Publisher | None) -> TrainResult:
    started = time.monotonic()
    store = open_store(settings.datasets_bucket)
    version = latest_version(store)
    if version is None:
        log.info(
            "no committed dataset version yet: nothing to train",
            extra={"family": spec.name, "model_name": settings.model_name, "bucket": store.url},
        )
        return TrainResult(spec.name, TrainStatus.NO_DATA)
    job = Job(spec.name, settings.model_name, version)

    client = registry.client(settings.mlflow_tracking_uri)
    experiment_id = ensure_experiment(client, spec.name)
    existing = find_finished_run(client, experiment_id, settings.model_name, version)
    if existing is not None and not is_deferred(existing):
        log.info("already trained on this dataset version: nothing to do", extra=job.extra(run_id=existing.info.run_id))
        return TrainResult(spec.name, TrainStatus.SKIPPED, version, run_id=existing.info.run_id)

    data = load_dataset(store, job)
    if existing is not None:
        return _decide_again(job, settings, client, existing, data.holdout, publisher)
    fitted = fit_pipeline(spec, data, job)
    scores = evaluate_fit(fitted, data, job)
    with open_run(client, experiment_id, job) as run:
        candidate = register_candidate(client, settings.mlflow_tracking_uri, run, job, spec, data, fitted, scores)
        decision = decide(client, settings, candidate, data.holdout)
        event_id = publish_promotion(publisher, client, candidate, decision)
    run_url = f"{settings.mlflow_tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{candidate.run_id}"
    log.info(
        "training finished",
        extra=candidate.extra(decision=decision.label, seconds=seconds_since(started), run_url=run_url),
    )
    return TrainResult(
        spec.name,
        TrainStatus.TRAINED,
        version,
        candidate.run_id,
        candidate.model_version,
        scores.holdout,
        decision,
        event_id,
    )


def _decide_again(
    job: Job, settings: Settings, client: MlflowClient, run: Run, holdout: Rows, publisher: Publisher | None
) -> TrainResult:
    """`run` registered a version for this dataset version but deferred its decision: decide now (see
    `common.training.deferred`); nothing is retrained."""
    run_id = run.info.run_id
    model_version = registered_version(client, job.model_name, run_id)
    if model_version is None:
        log.warning("the deferred run registered no version: nothing to decide", extra=job.extra(run_id=run_id))
        return TrainResult(job.family, TrainStatus.SKIPPED, job.dataset_version, run_id=run_id)
    candidate = logged_candidate(job, run, model_version)
    log.info("deciding again for the version whose promotion was deferred", extra=candidate.extra())
    decision = decide(client, settings, candidate, holdout)
    event_id = publish_promotion(publisher, client, candidate, decision)
    return TrainResult(
        job.family,
        TrainStatus.REDECIDED,
        job.dataset_version,
        run_id,
        model_version,
        candidate.holdout,
        decision,
        event_id,
    )
