"""mlapp's `GET /model-versions` (the registry's versions with their status and decision) against a stand-in for
MLflow's client, and the `model_holdout_mae_dollars` gauge of the served model. The real MLflow is in
tests/integration/test_live_quality.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mlflow.entities.model_registry import ModelVersion, ModelVersionTag, RegisteredModel, RegisteredModelAlias
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

from common.contracts.quality import RegistryVersionsAnswer
from mlapp.app import create_app
from mlapp.config import MlappConfig
from mlapp.model_holder import ModelHolder, ServingModel
from mlapp.model_versions import EXTENSION, VersionsCache, list_versions, status_of
from tests import mlapp_fixtures as fx

NAME = "house-price"


def version(number: int, **tags: Any) -> ModelVersion:
    tagged = [ModelVersionTag(key, str(value)) for key, value in tags.items()]
    return ModelVersion(NAME, str(number), creation_timestamp=1_750_000_000_000 + number * 1000, tags=tagged)


class FakeRegistry:
    """The two MLflow client calls `list_versions` makes (through `common.registry.get_champion`, three)."""

    def __init__(self, versions: list[ModelVersion], champion: int | None) -> None:
        self.versions = versions
        self.champion = champion
        self.searches: list[tuple[str, int, list[str]]] = []

    def get_registered_model(self, name: str) -> RegisteredModel:
        if not self.versions:
            raise MlflowException(f"Registered Model with name={name} not found", error_code=RESOURCE_DOES_NOT_EXIST)
        aliases = [RegisteredModelAlias("champion", str(self.champion))] if self.champion else []
        return RegisteredModel(name, aliases=aliases)

    def get_model_version(self, name: str, number: str) -> ModelVersion:
        return next(v for v in self.versions if v.version == number)

    def search_model_versions(self, filter_string: str, max_results: int, order_by: list[str]) -> list[ModelVersion]:
        self.searches.append((filter_string, max_results, order_by))
        return list(reversed(self.versions))


def test_status_follows_the_alias_and_the_recorded_decision() -> None:
    assert status_of(5, 5, "rejected") == "champion"  # the alias decides, whatever the tags say
    assert status_of(4, 5, None) == status_of(4, 5, "deferred") == "challenger"
    assert status_of(3, 5, "promoted") == status_of(2, 5, "rejected") == "retired"


def test_versions_carry_their_tags_newest_first_and_unusable_tags_become_null() -> None:
    fake = FakeRegistry(
        [
            version(1, family="linear_regression", dataset_version=1, holdout_mae=95000.5,
                    promotion_decision="promoted", promotion_reason="no champion yet", compared_with_version=""),
            version(2, family="gradient_boosting", dataset_version=1, holdout_mae=81000.0,
                    promotion_decision="promoted", promotion_reason="MAE 81,000 < champion v1 MAE 95,000",
                    compared_with_version=1),
            version(3, family="linear_regression", dataset_version=2, holdout_mae="nan", promotion_decision="maybe"),
            version(4, family="gradient_boosting", dataset_version=2, holdout_mae=90000.0,
                    promotion_decision="deferred", promotion_reason="deferred: champion v2 could not be scored"),
        ],
        champion=2,
    )  # fmt: skip
    answer = list_versions(fake, NAME, "champion")  # type: ignore[arg-type]
    assert fake.searches == [(f"name='{NAME}'", 1000, ["version_number DESC"])]
    assert answer.champion_version == 2 and [v.version for v in answer.versions] == [4, 3, 2, 1]
    by_version = {v.version: v for v in answer.versions}
    assert [by_version[n].status for n in (1, 2, 3, 4)] == ["retired", "champion", "challenger", "challenger"]
    assert by_version[2].model_dump() == {
        "family": "gradient_boosting",
        "version": 2,
        "dataset_version": 1,
        "holdout_mae": 81000.0,
        "status": "champion",
        "decision": {
            "outcome": "promoted",
            "reason": "MAE 81,000 < champion v1 MAE 95,000",
            "compared_with_version": 1,
        },
        "registered_at": "2025-06-15T15:06:42+00:00",
    }
    assert by_version[1].decision is not None and by_version[1].decision.compared_with_version is None
    assert by_version[3].holdout_mae is None and by_version[3].decision is None  # "nan", an unknown outcome


def test_a_model_not_registered_yet_has_no_versions() -> None:
    answer = list_versions(FakeRegistry([], None), NAME, "champion")  # type: ignore[arg-type]
    assert answer == RegistryVersionsAnswer(name=NAME, alias="champion", champion_version=None, versions=[])


INFO = {"name": NAME, "version": 7, "family": "linear_regression", "dataset_version": 3, "holdout_mae": 98765.4}


def build() -> Any:
    config = MlappConfig.from_env({"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    holder = ModelHolder(config.settings.mlflow_tracking_uri, NAME)
    holder.install(ServingModel.from_pipeline(fx.fitted("linear_regression"), INFO))
    return create_app(config=config, holder=holder, background=False)


def test_the_route_answers_the_registry_and_503_when_it_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # nothing listens on port 9: fail at once
    app = build()
    client = app.test_client()
    down = client.get("/model-versions")
    assert down.status_code == 503
    assert down.json == {"error": "the model registry at http://127.0.0.1:9 cannot be read (MlflowException)"}

    fake = FakeRegistry([version(7, family="linear_regression", promotion_decision="promoted")], champion=7)
    app.extensions[EXTENSION] = VersionsCache(lambda: list_versions(fake, NAME, "champion"))  # type: ignore[arg-type]
    answer = RegistryVersionsAnswer.model_validate(client.get("/model-versions").json)
    assert [(v.version, v.status) for v in answer.versions] == [(7, "champion")]
    client.get("/model-versions")
    assert len(fake.searches) == 1  # the second call within CACHE_SECONDS is answered from the cache


def test_metrics_show_the_holdout_mae_of_the_served_version_only() -> None:
    text = build().test_client().get("/metrics").get_data(as_text=True)
    found = re.findall(r"^model_holdout_mae_dollars\{(.*)\} (\S+)$", text, re.M)
    assert found == [('family="linear_regression",version="7"', "98765.4")]
