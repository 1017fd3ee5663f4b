"""Safe promotion against a real MLflow server: a blip while the champion is scored (its download fails once)
defers the decision instead of promoting. The candidate is registered and tagged "deferred" (version and run),
the alias stays, and `train` exits 3; the next run decides for that same version without retraining. A fault
of the champion's own files, by contrast, lets a better candidate in at once.

The champion is a deliberately weak ridge (`WEAK_FAMILY`); the candidate is the real linear_regression
family, which beats it on the holdout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from common import registry
from common.blobstore import FileBlobStore
from model_training import __main__ as cli
from tests.integration import training_support as support

pytestmark = pytest.mark.integration

CHAMPION, CANDIDATE = "a_weak", "b_linear"


@dataclass
class Registry:
    client: MlflowClient
    model_name: str

    def versions(self) -> dict[str, Any]:
        """family -> its only model version."""
        found = self.client.search_model_versions(f"name='{self.model_name}'")
        families = [v.tags["family"] for v in found]
        assert len(families) == len(set(families)), "a family was registered twice"
        return {v.tags["family"]: v for v in found}

    def champion_family(self) -> str:
        champion = registry.get_champion(self.client, self.model_name)
        assert champion is not None
        return champion.tags["family"]

    def runs(self, family: str) -> list[Any]:
        experiment = self.client.get_experiment_by_name(family)
        assert experiment is not None
        return self.client.search_runs(
            [experiment.experiment_id], filter_string=f"tags.registered_model = '{self.model_name}'"
        )


@pytest.fixture
def trained_champion(
    mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Registry:
    """`train` runs in this process (so the registry can be patched) with the weak family as the champion."""
    linear = (support.MODELS / "linear_regression" / "family.py").read_text()
    models = support.write_families(tmp_path / "models", {CHAMPION: support.WEAK_FAMILY, CANDIDATE: linear})
    store = FileBlobStore(tmp_path / "datasets")
    support.commit_sample_version(store, 1)
    model_name = support.unique_model_name()
    for variable in ("GCP_PROJECT", "GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in {
        "MODELS_DIR": str(models),
        "DATASETS_BUCKET": store.url,
        "MLFLOW_TRACKING_URI": mlflow_server,
        "MODEL_NAME": model_name,
        "PUBLISH_EVENTS": "false",
        "PLATFORM_DATA_DIR": str(tmp_path / "data"),
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    }.items():
        monkeypatch.setenv(variable, value)
    # JSON logging would replace pytest's handlers on the root logger: the records go to caplog instead.
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: logging.getLogger("trainer"))
    caplog.set_level(logging.INFO)

    assert cli.main(["--family", CHAMPION]) == 0
    state = Registry(registry.client(mlflow_server), model_name)
    assert state.champion_family() == CHAMPION
    return state


def _fail_once(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[int]:
    """The champion's download fails the first time only (a blip); returns the versions asked for."""
    real = registry.load_version
    calls: list[int] = []

    def flaky(tracking_uri: str, name: str, version: int | str) -> Any:
        calls.append(int(version))
        if len(calls) == 1:
            raise error
        return real(tracking_uri, name, version)

    monkeypatch.setattr(registry, "load_version", flaky)
    return calls


BLIPS: dict[str, Callable[[], Exception]] = {
    "connection": lambda: ConnectionError("Connection reset by peer while downloading the champion"),
    "mlflow-503": lambda: MlflowException(
        "API request to endpoint /api/2.0/mlflow/model-versions/get-download-uri failed with error code 503"
    ),
}


@pytest.mark.parametrize("blip", list(BLIPS))
def test_a_blip_while_scoring_the_champion_defers_and_the_next_run_decides_the_same_version(
    trained_champion: Registry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, blip: str
) -> None:
    state = trained_champion
    champion_version = state.versions()[CHAMPION].version
    error = BLIPS[blip]()
    calls = _fail_once(monkeypatch, error)

    assert cli.main(["--family", CANDIDATE]) == cli.EXIT_DEFERRED == 3
    assert calls == [int(champion_version)]
    assert state.champion_family() == CHAMPION, "the alias must not move on an infrastructure fault"
    candidate = state.versions()[CANDIDATE]
    (run,) = state.runs(CANDIDATE)
    assert run.info.run_id == candidate.run_id and run.info.status == "FINISHED"
    for tags in (candidate.tags, run.data.tags):
        assert tags["promotion_decision"] == "deferred"
        assert f"{type(error).__name__}: {error}" in tags["promotion_reason"]
        assert "infrastructure fault" in tags["promotion_reason"]
        assert tags["compared_with_version"] == champion_version
    (logged,) = [r for r in caplog.records if r.getMessage() == "promotion deferred"]
    assert logged.levelno == logging.ERROR and logged.family == CANDIDATE
    assert logged.reason == candidate.tags["promotion_reason"]

    # The next run (no blip now) scores the champion again and decides for the same version: no retraining.
    caplog.clear()
    assert cli.main(["--family", CANDIDATE]) == 0
    assert calls == [int(champion_version)] * 2
    assert not [r for r in caplog.records if r.getMessage() == "fitting"]
    decided = state.versions()[CANDIDATE]
    assert decided.version == candidate.version
    (again,) = state.runs(CANDIDATE)
    assert again.info.run_id == run.info.run_id
    for tags in (decided.tags, again.data.tags):
        assert tags["promotion_decision"] == "promoted"
        assert f"< champion v{champion_version} MAE" in tags["promotion_reason"]
        assert float(tags["compared_champion_mae"]) > float(decided.tags["holdout_mae"])
    assert state.champion_family() == CANDIDATE

    # Decided for good: the run after that has nothing to do.
    caplog.clear()
    assert cli.main(["--family", CANDIDATE]) == 0
    assert [r for r in caplog.records if r.getMessage().startswith("already trained")]
    assert calls == [int(champion_version)] * 2


def test_a_champion_whose_files_are_damaged_is_replaced_at_once(
    trained_champion: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = trained_champion
    _fail_once(monkeypatch, registry.CorruptModel("models:/x/1 cannot be deserialised: BadZipFile: File is not a zip"))
    assert cli.main(["--family", CANDIDATE]) == 0
    candidate = state.versions()[CANDIDATE]
    assert candidate.tags["promotion_decision"] == "promoted"
    assert "could not be scored on the holdout (CorruptModel:" in candidate.tags["promotion_reason"]
    assert state.champion_family() == CANDIDATE
