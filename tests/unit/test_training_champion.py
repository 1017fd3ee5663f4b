"""Safe promotion: only a fault of the champion itself lets a candidate replace it. Each exception type is
classified as the model's fault or the infrastructure's (unknown types count as infrastructure), the registry
raises model-fault types for damaged files, and a deferred decision is recorded in tags without moving the
alias; it is found again on the run, with the candidate's scores as the run logged them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as gauth
from mlflow.exceptions import MlflowException
from sklearn.exceptions import NotFittedError

from common import registry
from common.settings import Settings
from common.training import evaluate, median_baseline_mae
from common.training.deferred import is_deferred, logged_candidate
from common.training.faults import Fault, Stage, classify
from common.training.job import Job
from common.training.steps.decide import decide, score_champion
from common.training.steps.load import Rows
from common.training.steps.register import Candidate

Y = np.array([300_000.0, 450_000.0, 520_000.0, 610_000.0, 1_200_000.0])
X = pd.DataFrame({"sqft_living": [1000, 1500, 1800, 2100, 4000]})
HOLDOUT = Rows(X, Y)

INFRASTRUCTURE_ERRORS = [
    MlflowException("API request to /api/2.0/mlflow/model-versions/get-download-uri failed: 503"),
    MlflowException("RESOURCE_DOES_NOT_EXIST", error_code="RESOURCE_DOES_NOT_EXIST"),
    ConnectionError("connection refused"),
    TimeoutError("timed out"),
    OSError("disk I/O error"),
    requests.ConnectionError("max retries exceeded"),
    requests.Timeout("read timed out"),
    requests.JSONDecodeError("bad body", "", 0),  # a ValueError too: infrastructure still wins
    gexc.ServiceUnavailable("503 from storage"),
    gexc.InternalServerError("500 from storage"),
    gexc.RetryError("deadline", cause=None),
    gauth.TransportError("token endpoint unreachable"),
    MemoryError(),
    RuntimeError("something nobody classified"),
]


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("exc", INFRASTRUCTURE_ERRORS, ids=lambda e: type(e).__name__)
def test_infrastructure_and_unknown_errors_are_never_the_models_fault(exc: BaseException, stage: Stage) -> None:
    assert classify(exc, stage) is Fault.INFRASTRUCTURE


@pytest.mark.parametrize(
    "exc",
    [registry.UntrustedModel("foreign class"), registry.CorruptModel("BadZipFile")],
    ids=lambda e: type(e).__name__,
)
def test_unusable_model_files_are_the_models_fault(exc: BaseException) -> None:
    assert classify(exc, Stage.LOAD) is Fault.MODEL


@pytest.mark.parametrize(
    "exc",
    [ValueError("X has 3 features"), TypeError("bad"), AttributeError("no attr"), KeyError("col"), IndexError("i")],
    ids=lambda e: type(e).__name__,
)
def test_a_loaded_model_failing_to_predict_is_its_own_fault_but_not_while_loading(exc: BaseException) -> None:
    assert classify(exc, Stage.PREDICT) is Fault.MODEL
    assert classify(exc, Stage.LOAD) is Fault.INFRASTRUCTURE  # e.g. MLflow parsing a server reply
    assert classify(NotFittedError("not fitted"), Stage.PREDICT) is Fault.MODEL


@pytest.fixture
def saved_model(tmp_path: Path) -> Path:
    import mlflow
    from sklearn.dummy import DummyRegressor

    path = tmp_path / "model"
    mlflow.sklearn.save_model(DummyRegressor().fit(X, Y), str(path), pip_requirements=[])
    return path


def test_damaged_model_files_raise_a_model_fault(saved_model: Path) -> None:
    assert registry.load_model(str(saved_model)).predict(X).shape == (5,)
    skops_file = next(saved_model.glob("*.skops"))
    skops_file.write_bytes(skops_file.read_bytes()[:100])
    with pytest.raises(registry.CorruptModel, match="BadZipFile"):
        registry.load_model(str(saved_model))
    with zipfile.ZipFile(skops_file, "w") as archive:  # a valid zip whose schema names no loader
        archive.writestr("schema.json", json.dumps({"__class__": "Nope", "__module__": "nowhere", "protocol": 2}))
    with pytest.raises(registry.CorruptModel, match="cannot be deserialised"):
        registry.load_model(str(saved_model))
    (saved_model / "MLmodel").write_text("flavors: [unclosed")
    with pytest.raises(registry.CorruptModel, match="unreadable MLmodel"):
        registry.load_model(str(saved_model))
    (saved_model / "MLmodel").write_text("flavors: {python_function: {}}\n")
    with pytest.raises(registry.UntrustedModel, match="not an MLflow sklearn model"):
        registry.load_model(str(saved_model))


def test_missing_model_files_are_not_blamed_on_the_model(saved_model: Path) -> None:
    """A file listed in MLmodel that is not there may be a storage fault: not a reason to replace a champion."""
    next(saved_model.glob("*.skops")).unlink()
    with pytest.raises(FileNotFoundError) as caught:
        registry.load_model(str(saved_model))
    assert classify(caught.value, Stage.LOAD) is Fault.INFRASTRUCTURE


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        "trainer", {"PLATFORM_DATA_DIR": str(tmp_path), "MLFLOW_TRACKING_URI": "http://mlflow"}, require_project=False
    )


class _Model:
    def __init__(self, predictions: np.ndarray | Exception) -> None:
        self.predictions = predictions

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        if isinstance(self.predictions, Exception):
            raise self.predictions
        return self.predictions


def _loading(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> None:
    def load_version(tracking_uri: str, name: str, version: int) -> Any:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(registry, "load_version", load_version)


@pytest.mark.parametrize(
    ("outcome", "fault"),
    [
        (MlflowException("503 Service Unavailable"), Fault.INFRASTRUCTURE),
        (ConnectionError("reset by peer"), Fault.INFRASTRUCTURE),
        (gexc.ServiceUnavailable("storage"), Fault.INFRASTRUCTURE),
        (registry.UntrustedModel("foreign class"), Fault.MODEL),
        (registry.CorruptModel("BadZipFile"), Fault.MODEL),
        (_Model(ValueError("X has 3 features, but the model expects 14")), Fault.MODEL),
        (_Model(np.ones(3)), Fault.MODEL),  # 3 predictions for 5 rows
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_scoring_the_champion_records_the_error_and_whose_fault_it_is(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, outcome: Any, fault: Fault
) -> None:
    _loading(monkeypatch, outcome)
    score = score_champion(settings.mlflow_tracking_uri, settings.model_name, 7, HOLDOUT)
    assert score.version == 7 and score.evaluation is None
    assert score.fault is fault and score.error


@pytest.mark.parametrize("predictions", [np.full(5, np.nan), np.array([-1.0, 1, 2, 3, 4])], ids=["nan", "negative"])
def test_invalid_champion_predictions_are_scored_and_let_a_sane_candidate_in(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, predictions: np.ndarray
) -> None:
    _loading(monkeypatch, _Model(predictions))
    score = score_champion(settings.mlflow_tracking_uri, settings.model_name, 7, HOLDOUT)
    assert score.evaluation is not None and not score.evaluation.sane and score.fault is None
    client = _FakeClient(champion=7)
    decision = decide(client, settings, _candidate(settings), HOLDOUT)
    assert decision.label == "promoted" and client.aliases["champion"] == "9"


class _FakeClient:
    """The MlflowClient calls the decide step makes, recorded in order."""

    def __init__(self, champion: int | None) -> None:
        self.aliases = {} if champion is None else {"champion": str(champion)}
        self.calls: list[tuple[str, ...]] = []
        self.version_tags: dict[str, str] = {}
        self.run_tags: dict[str, str] = {}

    def get_registered_model(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(aliases=dict(self.aliases))

    def get_model_version(self, name: str, version: str) -> SimpleNamespace:
        return SimpleNamespace(version=version)

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        assert version == "9"
        self.calls.append(("version_tag", key))
        self.version_tags[key] = value

    def log_batch(self, run_id: str, tags: list[Any]) -> None:
        assert run_id == "run-9"
        self.calls.append(("run_tags",))
        self.run_tags.update({tag.key: tag.value for tag in tags})

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.calls.append(("alias", version))
        self.aliases[alias] = version


def _candidate(settings: Settings) -> Candidate:
    job = Job("linear", settings.model_name, 2)
    return Candidate(job, 9, "run-9", evaluate(Y, Y + 10_000), median_baseline_mae(Y, Y))


def test_an_infrastructure_fault_defers_records_tags_and_leaves_the_alias(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    _loading(monkeypatch, MlflowException("API request failed: 502 Bad Gateway"))
    client = _FakeClient(champion=7)
    decision = decide(client, settings, _candidate(settings), HOLDOUT)
    assert decision.deferred and not decision.promote
    assert client.aliases == {"champion": "7"}
    assert not any(call[0] == "alias" for call in client.calls)
    for tags in (client.version_tags, client.run_tags):
        assert tags[registry.TAG_DECISION] == "deferred"
        assert "MlflowException: API request failed: 502 Bad Gateway" in tags[registry.TAG_REASON]
        assert tags[registry.TAG_COMPARED_WITH] == "7" and tags["compared_champion_mae"] == ""


def test_a_promotion_is_tagged_before_the_alias_moves(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    _loading(monkeypatch, registry.CorruptModel("BadZipFile: File is not a zip file"))
    client = _FakeClient(champion=7)
    decision = decide(client, settings, _candidate(settings), HOLDOUT)
    assert decision.label == "promoted" and "BadZipFile" in decision.reason
    assert client.calls[-1] == ("alias", "9")
    assert {("version_tag", registry.TAG_DECISION), ("run_tags",)} <= set(client.calls[:-1])
    assert client.run_tags[registry.TAG_DECISION] == "promoted"


def test_a_failure_recording_the_decision_never_moves_the_alias(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    _loading(monkeypatch, registry.CorruptModel("BadZipFile"))
    client = _FakeClient(champion=7)

    def unreachable(run_id: str, tags: list[Any]) -> None:
        raise MlflowException("API request to /api/2.0/mlflow/runs/log-batch failed: 503")

    client.log_batch = unreachable  # type: ignore[method-assign]
    with pytest.raises(MlflowException):
        decide(client, settings, _candidate(settings), HOLDOUT)
    assert client.aliases == {"champion": "7"}


def _run(tags: dict[str, str]) -> SimpleNamespace:
    metrics = {"holdout_rows": 5.0, "holdout_mae": 10_000.0, "holdout_rmse": 12_000.0, "holdout_r2": 0.9}
    return SimpleNamespace(
        info=SimpleNamespace(run_id="run-9"),
        data=SimpleNamespace(tags=tags, metrics={**metrics, "baseline_median_mae": 200_000.0}),
    )


def test_a_deferred_run_gives_back_the_candidate_it_logged() -> None:
    run = _run({registry.TAG_DECISION: "deferred"})
    assert is_deferred(run)  # type: ignore[arg-type]
    assert not is_deferred(_run({registry.TAG_DECISION: "rejected"}))  # type: ignore[arg-type]
    assert not is_deferred(_run({}))  # type: ignore[arg-type]
    job = Job("linear", "house-price", 2)
    candidate = logged_candidate(job, run, 9)  # type: ignore[arg-type]
    assert (candidate.job, candidate.model_version, candidate.run_id) == (job, 9, "run-9")
    assert candidate.holdout.rows == 5 and candidate.holdout.mae == 10_000.0 and candidate.holdout.sane
    assert candidate.baseline_mae == 200_000.0
