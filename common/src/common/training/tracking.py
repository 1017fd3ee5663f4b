"""The trainer's MLflow bookkeeping: its experiment, its run (opened and ended through the client), the run
already finished for a dataset version, the model signature, and the fluent API pointed at one tracking server
(for `mlflow.sklearn.log_model`, which has no client form)."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking.context.registry import resolve_tags
from sklearn.pipeline import Pipeline

from common import registry
from common.training.job import Job

RUN_TAG_MODEL_NAME = "registered_model"


def ensure_experiment(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = client.get_experiment_by_name(name)
            assert experiment is not None
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


@contextlib.contextmanager
def open_run(client: MlflowClient, experiment_id: str, job: Job) -> Iterator[Run]:
    """A run for `job` that ends FINISHED when the block completes and FAILED when it raises (as
    `mlflow.start_run` would, without making it the process's active run). The trainer skips a dataset
    version only for a FINISHED run, so the block holds everything up to the recorded decision."""
    tags = {
        registry.TAG_FAMILY: job.family,
        registry.TAG_DATASET_VERSION: str(job.dataset_version),
        RUN_TAG_MODEL_NAME: job.model_name,
    }
    # resolve_tags adds what start_run adds: the user and the source (file, git commit) behind the run.
    run = client.create_run(experiment_id, tags=resolve_tags(tags), run_name=f"{job.family}-v{job.dataset_version}")
    try:
        yield run
    except BaseException:
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))


def find_finished_run(client: MlflowClient, experiment_id: str, model_name: str, dataset_version: int) -> Run | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.{registry.TAG_DATASET_VERSION} = '{dataset_version}' "
            f"and tags.{RUN_TAG_MODEL_NAME} = '{model_name}' and attributes.status = 'FINISHED'"
        ),
        max_results=1,
    )
    return runs[0] if runs else None


def signature(pipeline: Pipeline, x_train: pd.DataFrame) -> Any:
    sample = x_train.head(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the hint about integer columns: our inputs are never missing
        return infer_signature(sample, pipeline.predict(sample))


@contextlib.contextmanager
def using_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API (start_run, log_model) for `uri`, leaving the process-wide setting (and the
    MLFLOW_TRACKING_URI variable that `set_tracking_uri` exports) as they were."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    previous, previous_env = tracking_utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # mlflow's annotation omits None, which unsets it
        if previous_env is not None:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env
