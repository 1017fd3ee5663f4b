"""Each step of the trainer on its own, without an MLflow server: load from a `file://` bucket, fit, evaluate,
register and publish against recording fakes (every MLflow write must name the run or model version), and the
run that ends FINISHED only when the block completes. The decide step's own tests are in
test_training_champion.py."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge

from common import registry
from common.blobstore import FileBlobStore
from common.compiled import Verdict
from common.contracts.drift import ReferenceProfile
from common.csv_validation import validate_csv
from common.dataset_versions import commit_version
from common.drift import reference_profile
from common.schema import FIELD_NAMES, NUMERIC_FIELDS
from common.training import Decision, FamilySpec, evaluate, median_baseline_mae
from common.training.job import Job
from common.training.steps.evaluate import evaluate_fit
from common.training.steps.fit import fit_pipeline
from common.training.steps.load import Dataset, Rows, latest_version, load_dataset
from common.training.steps.publish import publish_promotion
from common.training.steps.register import Candidate, register_candidate
from common.training.tracking import open_run

REPO = Path(__file__).resolve().parents[2]
JOB = Job("ridge", "house-price", 2)
RIDGE = FamilySpec("ridge", lambda alpha: Ridge(alpha=alpha), {"alpha": 1.0}, {"street_buckets": 4})


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    frame = validate_csv((REPO / "sample_dataset" / "data.csv").read_bytes(), "data.csv").accepted
    return frame.head(400).reset_index(drop=True)


@pytest.fixture
def store(tmp_path: Path, rows: pd.DataFrame) -> FileBlobStore:
    """Two committed versions of 200 rows each (160 train, 40 valid)."""
    bucket = FileBlobStore(tmp_path / "datasets")
    for version, part in ((1, rows.iloc[:200]), (2, rows.iloc[200:])):
        commit_version(bucket, version, part.iloc[:160], part.iloc[160:])
    return bucket


@pytest.fixture
def data(store: FileBlobStore) -> Dataset:
    return load_dataset(store, JOB)


def test_load_finds_the_latest_version_and_reads_every_version_up_to_it(
    store: FileBlobStore, tmp_path: Path, rows: pd.DataFrame
) -> None:
    assert latest_version(FileBlobStore(tmp_path / "empty")) is None
    assert latest_version(store) == 2
    data = load_dataset(store, JOB)
    assert data.versions == [1, 2] and data.bucket == store.url
    assert (len(data.train), len(data.holdout)) == (320, 80)
    assert list(data.train.x.columns) == list(FIELD_NAMES) and data.train.y.dtype == np.float64
    expected = pd.concat([rows.iloc[160:200], rows.iloc[360:]])["price"].to_numpy()
    np.testing.assert_array_equal(data.holdout.y, expected)
    first = load_dataset(store, Job("ridge", "house-price", 1))
    assert first.versions == [1] and (len(first.train), len(first.holdout)) == (160, 40)


def test_fit_builds_the_family_pipeline_and_refuses_classes_it_could_not_load_back(data: Dataset) -> None:
    fitted = fit_pipeline(RIDGE, data, JOB)
    assert list(fitted.pipeline.named_steps) == ["features", "model"]
    assert fitted.pipeline.named_steps["features"].street_buckets == 4
    assert fitted.pipeline.predict(data.holdout.x).shape == (80,) and fitted.seconds >= 0
    forest = FamilySpec("forest", lambda: RandomForestRegressor(n_estimators=2, max_depth=2))
    with pytest.raises(TypeError, match="TRUSTED_TYPES"):
        fit_pipeline(forest, data, JOB)


def test_evaluate_scores_both_splits_and_the_median_baseline(data: Dataset, caplog: pytest.LogCaptureFixture) -> None:
    fitted = fit_pipeline(RIDGE, data, JOB)
    caplog.set_level(logging.INFO)
    scores = evaluate_fit(fitted, data, JOB)
    assert scores.train == evaluate(data.train.y, fitted.pipeline.predict(data.train.x))
    assert scores.holdout == evaluate(data.holdout.y, fitted.pipeline.predict(data.holdout.x))
    assert scores.baseline_mae == median_baseline_mae(data.train.y, data.holdout.y)
    (entry,) = [r for r in caplog.records if r.getMessage() == "fitted"]  # read by the bench
    assert entry.seconds == fitted.seconds and entry.holdout_mae == scores.holdout.mae


class _Recorder:
    """An MlflowClient double: records each call as (method, kwargs with the positional ones named)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _record(self, method: str, **kwargs: Any) -> None:
        self.calls.append((method, kwargs))

    def named(self, method: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == method]

    def create_run(self, experiment_id: str, tags: dict[str, str], run_name: str) -> SimpleNamespace:
        self._record("create_run", experiment_id=experiment_id, tags=tags, run_name=run_name)
        return SimpleNamespace(info=SimpleNamespace(run_id="run-1", experiment_id=experiment_id))

    def set_terminated(self, run_id: str, status: str) -> None:
        self._record("set_terminated", run_id=run_id, status=status)

    def log_batch(self, run_id: str, metrics: Any = (), params: Any = (), tags: Any = ()) -> None:
        self._record("log_batch", run_id=run_id, metrics=list(metrics), params=list(params), tags=list(tags))

    def create_logged_model(self, experiment_id: str, **kwargs: Any) -> SimpleNamespace:
        self._record("create_logged_model", experiment_id=experiment_id, **kwargs)
        return SimpleNamespace(model_id="m-1")

    def create_registered_model(self, name: str) -> None:
        self._record("create_registered_model", name=name)

    def create_model_version(self, name: str, **kwargs: Any) -> SimpleNamespace:
        self._record("create_model_version", name=name, **kwargs)
        return SimpleNamespace(version="5")

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._record("set_model_version_tag", name=name, version=version, key=key, value=value)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._record("log_text", run_id=run_id, text=text, artifact_file=artifact_file)


def test_the_run_ends_finished_only_when_the_block_completes() -> None:
    client = _Recorder()
    with open_run(client, "exp-1", JOB) as run:  # type: ignore[arg-type]
        assert run.info.run_id == "run-1" and not client.named("set_terminated")
    (created,) = client.named("create_run")
    assert created["run_name"] == "ridge-v2" and created["experiment_id"] == "exp-1"
    assert {"family": "ridge", "dataset_version": "2", "registered_model": "house-price"}.items() <= created[
        "tags"
    ].items()
    assert client.named("set_terminated") == [{"run_id": "run-1", "status": "FINISHED"}]
    failing = _Recorder()
    with pytest.raises(RuntimeError, match="boom"), open_run(failing, "exp-1", JOB):  # type: ignore[arg-type]
        raise RuntimeError("boom")
    assert failing.named("set_terminated") == [{"run_id": "run-1", "status": "FAILED"}]


def test_register_writes_through_the_client_naming_the_run_and_logs_the_model_in_its_experiment(
    data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted = fit_pipeline(RIDGE, data, JOB)
    scores = evaluate_fit(fitted, data, JOB)
    logged: list[dict[str, Any]] = []

    def log_model(pipeline: Any, **kwargs: Any) -> SimpleNamespace:
        assert pipeline is fitted.pipeline and mlflow.active_run() is None
        logged.append(kwargs)
        return SimpleNamespace(model_uri="models:/m-1", model_id="m-1")

    monkeypatch.setattr("mlflow.sklearn.log_model", log_model)
    client = _Recorder()
    run = SimpleNamespace(info=SimpleNamespace(run_id="run-1", experiment_id="exp-1"))
    candidate = register_candidate(client, "http://mlflow", run, JOB, RIDGE, data, fitted, scores)  # type: ignore[arg-type]

    assert scores.serving.verdict is Verdict.COMPILED  # checked on the holdout in the evaluate step
    assert candidate == Candidate(JOB, 5, "run-1", scores.holdout, scores.baseline_mae, Verdict.COMPILED)
    (batch,) = client.named("log_batch")
    assert batch["run_id"] == "run-1"
    assert {t.key: t.value for t in batch["tags"]} == {"serving_form": "compiled"}
    params = {p.key: p.value for p in batch["params"]}
    assert params["dataset_versions"] == "1,2" and params["model.alpha"] == "1.0"
    assert params["features.street_buckets"] == "4"
    metrics = {m.key: m.value for m in batch["metrics"]}
    assert metrics["holdout_mae"] == scores.holdout.mae and metrics["fit_seconds"] == fitted.seconds
    (model,) = client.named("create_logged_model")
    assert (model["experiment_id"], model["source_run_id"], model["params"]) == ("exp-1", "run-1", params)
    (kwargs,) = logged
    assert (kwargs["run_id"], kwargs["model_id"], kwargs["name"]) == ("run-1", "m-1", "model")
    assert set(kwargs["skops_trusted_types"]) == set(registry.TRUSTED_TYPES)
    (version,) = client.named("create_model_version")
    assert (version["source"], version["run_id"], version["model_id"]) == ("models:/m-1", "run-1", "m-1")
    assert version["tags"]["dataset_version"] == "2" and version["tags"]["train_rows"] == "320"
    assert version["tags"]["serving_form"] == "compiled"
    assert float(version["tags"]["holdout_mae"]) == scores.holdout.mae
    # The reference profile of the train rows (input drift), an artifact of the run the version names.
    (artifact,) = client.named("log_text")
    assert (artifact["run_id"], artifact["artifact_file"]) == ("run-1", "reference_profile.json")
    assert version["tags"]["reference_profile"] == "reference_profile.json"
    profile = ReferenceProfile.model_validate_json(artifact["text"])
    assert profile == reference_profile(data.train.x) and profile.rows == 320
    assert set(profile.numeric) == set(NUMERIC_FIELDS) and set(profile.categorical) == {"city", "statezip", "country"}


def _candidate() -> Candidate:
    y = np.array([300_000.0, 500_000.0])
    return Candidate(JOB, 5, "run-1", evaluate(y, y), 100_000.0)


class _Publisher:
    def __init__(self, error: Exception | None = None) -> None:
        self.events: list[Any] = []
        self.error = error

    def publish(self, event: Any) -> None:
        if self.error:
            raise self.error
        self.events.append(event)


def test_publish_announces_a_promotion_and_tags_the_version_with_the_event() -> None:
    client, publisher = _Recorder(), _Publisher()
    event_id = publish_promotion(publisher, client, _candidate(), Decision(True, "better", 4))  # type: ignore[arg-type]
    (event,) = publisher.events
    assert event.event_id == event_id and event.type == "model.promoted"
    assert event.data == {
        "name": "house-price",
        "version": 5,
        "family": "ridge",
        "dataset_version": 2,
        "holdout_mae": 0.0,
        "previous_version": 4,
    }
    assert client.named("set_model_version_tag") == [
        {"name": "house-price", "version": "5", "key": "promotion_event", "value": event_id}
    ]


@pytest.mark.parametrize(
    "decision",
    [Decision(False, "worse", 4), Decision(False, "deferred: ...", 4, deferred=True)],
    ids=["rejected", "deferred"],
)
def test_publish_announces_nothing_but_a_promotion(decision: Decision) -> None:
    client, publisher = _Recorder(), _Publisher()
    assert publish_promotion(publisher, client, _candidate(), decision) is None  # type: ignore[arg-type]
    assert publish_promotion(None, client, _candidate(), Decision(True, "better")) is None  # type: ignore[arg-type]
    assert not publisher.events and not client.calls


def test_a_failed_publish_is_tagged_not_raised() -> None:
    client = _Recorder()
    publisher = _Publisher(ConnectionError("bus unreachable"))
    assert publish_promotion(publisher, client, _candidate(), Decision(True, "better")) is None  # type: ignore[arg-type]
    (tag,) = client.named("set_model_version_tag")
    assert tag["value"] == "failed: bus unreachable" and tag["version"] == "5"


def test_rows_hold_the_schema_fields_in_order_and_float_prices() -> None:
    frame = pd.DataFrame([{**{name: 1 for name in reversed(FIELD_NAMES)}, "price": 2}])
    rows = Rows.of(frame)
    assert list(rows.x.columns) == list(FIELD_NAMES) and rows.y.tolist() == [2.0] and len(rows) == 1
