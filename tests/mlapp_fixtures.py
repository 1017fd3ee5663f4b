"""Helpers for mlapp's tests (imported explicitly: `from tests import mlapp_fixtures as fx`).

Real models: small pipelines of the production shape (`common.training.build_pipeline`: HouseFeatures + a
regressor), fitted on the sample data as the data job validates it, logged and registered in a real MLflow
server the way the trainer does. Plain functions and context managers, no pytest fixtures.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import requests
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from common import registry
from common.csv_validation import validate_csv
from common.drift import reference_profile
from common.schema import FIELD_NAMES, INPUT_FIELDS
from common.training import FamilySpec, build_pipeline
from tests.service_fixtures import ServerContext, gunicorn_server

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dataset" / "data.csv"
SEED_METRICS = (
    "prediction_requests_total",
    "prediction_latency_seconds",
    "prediction_errors_total",
    "active_prediction_requests",
    "model_load_time_seconds",
    "last_prediction_timestamp",
    "predicted_price_dollars",
)


@cache
def sample_frame() -> pd.DataFrame:
    """The sample data after the shared CSV validation (typed columns, bad rows dropped)."""
    return validate_csv(SAMPLE.read_bytes(), "data.csv").accepted


def sample_records(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """`n` real houses from the sample (cycled when n exceeds the sample), as JSON-ready dicts."""
    frame = sample_frame().loc[:, list(FIELD_NAMES)]
    rows = frame.to_dict(orient="records")
    picked = [rows[(offset + i) % len(rows)] for i in range(n)]
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()} for row in picked]


def record(**overrides: Any) -> dict[str, Any]:
    """A valid house record (the schema's example values)."""
    return {**{spec.name: spec.example for spec in INPUT_FIELDS}, **overrides}


def _ridge(alpha: float) -> TransformedTargetRegressor:
    return TransformedTargetRegressor(regressor=Ridge(alpha=alpha), func=np.log1p, inverse_func=np.expm1)


def _boosting(max_iter: int) -> TransformedTargetRegressor:
    return TransformedTargetRegressor(
        regressor=HistGradientBoostingRegressor(max_iter=max_iter, random_state=0),
        func=np.log1p,
        inverse_func=np.expm1,
    )


FAMILIES = {
    "linear_regression": FamilySpec("linear_regression", _ridge, {"alpha": 10.0}),
    "gradient_boosting": FamilySpec("gradient_boosting", _boosting, {"max_iter": 30}, {"statezip_buckets": 128}),
}


@cache
def fitted(family: str) -> Pipeline:
    """A pipeline of the production shape fitted on the sample (cached: fitting is deterministic).

    One native thread: OpenMP thread teams spin-wait, which on a busy 2-core machine makes a 0.3 s fit last
    minutes."""
    frame = sample_frame()
    pipeline = build_pipeline(FAMILIES[family])
    with threadpool_limits(limits=1):
        pipeline.fit(frame.loc[:, list(FIELD_NAMES)], frame["price"].to_numpy(dtype=np.float64))
    return pipeline


@contextlib.contextmanager
def _quiet_mlflow_logging() -> Iterator[None]:
    """MLflow finds this repository's uv project and copies its lock file into every logged model (slow, and
    nothing mlapp reads); the trainer's own tests cover what the trainer logs."""
    names = ("MLFLOW_UV_AUTO_DETECT", "MLFLOW_LOG_UV_FILES")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "false"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _experiment(tracking_uri: str, name: str) -> str:
    client = registry.client(tracking_uri)
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def register(
    tracking_uri: str,
    model_name: str,
    pipeline: Any,
    family: str,
    *,
    dataset_version: int = 1,
    serialization_format: str = "skops",
    profile: bool = False,
) -> int:
    """Log `pipeline` in a run of experiment `family` and register it under `model_name`, tagged the way the
    trainer tags versions; returns the new version number. `serialization_format="cloudpickle"` logs a model
    that mlapp must refuse (common.registry loads skops models only). `profile=True` also logs the reference
    profile of the sample data, as the trainer does (input drift); without it the version is one registered
    before the trainer logged profiles."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    experiment_id = _experiment(tracking_uri, f"{model_name}-{family}")
    example = sample_frame().loc[:, list(FIELD_NAMES)].head(5)
    options: dict[str, Any] = {"serialization_format": serialization_format}
    if serialization_format == "skops":
        options["skops_trusted_types"] = list(registry.TRUSTED_TYPES)
    with (
        _quiet_mlflow_logging(),
        mlflow.start_run(experiment_id=experiment_id, run_name=f"{family}-v{dataset_version}") as run,
    ):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            pip_requirements=["scikit-learn", "skops", "numpy", "pandas"],
            input_example=None,
            signature=mlflow.models.infer_signature(example, pipeline.predict(example)),
            **options,
        )
        tags = {registry.TAG_FAMILY: family, registry.TAG_DATASET_VERSION: dataset_version, "holdout_mae": 123456.5}
        if profile:
            sample = reference_profile(sample_frame().loc[:, list(FIELD_NAMES)])
            path = registry.log_profile(registry.client(tracking_uri), run.info.run_id, sample)
            tags[registry.TAG_REFERENCE_PROFILE] = path
        version = mlflow.register_model(
            info.model_uri, model_name, tags={k: registry.tag_value(v) for k, v in tags.items()}
        )
    return int(version.version)


def register_damaged(tracking_uri: str, model_name: str, good_version: int) -> int:
    """Register a copy of a good version whose model file is damaged: a version mlapp fails to load."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="damaged-") as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model_name}/{good_version}", dst_path=tmp)
        )
        (local / "model.skops").write_bytes(b"this is not a skops archive")
        experiment_id = _experiment(tracking_uri, f"{model_name}-damaged")
        with mlflow.start_run(experiment_id=experiment_id, run_name="damaged") as run:
            mlflow.log_artifacts(str(local), "model")
        version = mlflow.register_model(
            f"runs:/{run.info.run_id}/model", model_name, tags={registry.TAG_FAMILY: "linear_regression"}
        )
    return int(version.version)


def promote(tracking_uri: str, model_name: str, version: int) -> None:
    registry.set_champion(registry.client(tracking_uri), model_name, version)


def wait_until(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition", every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def mlapp_env(tracking_uri: str, model_name: str, multiproc_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for mlapp under gunicorn. Without `PUBSUB_EMULATOR_HOST`/`GCP_PROJECT` in `extra`, both are
    blanked so that the bus is off (alias polling only)."""
    shutil.rmtree(multiproc_dir, ignore_errors=True)
    multiproc_dir.mkdir(parents=True)
    return {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MODEL_NAME": model_name,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "PUBSUB_EMULATOR_HOST": "",
        "GCP_PROJECT": "",
        "GOOGLE_CLOUD_PROJECT": "",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
        **extra,
    }


def mlapp_server(env: dict[str, str], log_path: Path, workers: int = 2) -> ServerContext:
    """mlapp under real gunicorn, started by the same launcher `make up` uses; yields the child and base URL."""
    return gunicorn_server("mlapp", env, log_path, workers=workers, timeout=120)


def log_lines(log_path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a server's log file."""
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]


def metric_samples(text: str, name: str) -> list[tuple[str, float]]:
    """`(labels, value)` of every sample named exactly `name` in Prometheus text format."""
    found = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, labels = series.partition("{")
        if metric == name:
            found.append((labels.rstrip("}"), float(value)))
    return found


def metric_total(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for lab, v in metric_samples(text, name) if all(w in lab for w in wanted))


def serving_versions(url: str) -> list[int]:
    """The model version each live worker serves (`serving_model_version`, one sample per worker)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sorted(int(v) for _, v in metric_samples(text, "serving_model_version"))


def wait_serving(url: str, version: int, workers: int, timeout: float = 30.0) -> None:
    wait_until(
        lambda: serving_versions(url) == [version] * workers, timeout, f"{workers} worker(s) to serve v{version}"
    )


def predict(url: str, rec: dict[str, Any], timeout: float = 10.0) -> requests.Response:
    return requests.post(f"{url}/predict", json=rec, timeout=timeout)
