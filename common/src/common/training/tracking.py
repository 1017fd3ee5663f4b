"""The trainer's MLflow bookkeeping: its experiment, the run already finished for a dataset version, the model
signature, and the fluent API pointed at one tracking server."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from common import registry

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
        mlflow.set_tracking_uri(previous)
        if previous_env is not None:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env
