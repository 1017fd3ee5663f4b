"""The shared trainer against a real `mlflow server` and the real Pub/Sub emulator.

Both real families train on dataset version 1 of a `file://` bucket (cut from the sample data), register
versions tagged with family and dataset version (with the reference profile of their train rows), the champion
alias lands on the better one, and each promotion is announced on `model-promotions`; the champion passes the
behavioural checks. A second run with no new version trains nothing; version 2 retrains both, and the alias
moves only for a candidate that beats the champion on the new holdout.

The tests in this module share one trained registry (a module fixture) and run in file order: the last one
commits version 2.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from common import registry
from common.blobstore import FileBlobStore
from common.bus import Publisher, ensure_subscription, ensure_topics
from common.dataset_versions import load_versions
from common.events import TOPIC_MODEL_PROMOTIONS
from common.schema import FIELD_NAMES
from common.settings import Settings
from common.training import TrainResult, discover_families, evaluate, train_family
from tests import model_behaviour as behaviour
from tests.integration import training_support as support

pytestmark = pytest.mark.integration

SUBSCRIPTION = "training-test-promotions"


@dataclass
class Trained:
    settings: Settings
    store: FileBlobStore
    project: str
    publisher: Publisher
    first: list[TrainResult]

    @property
    def client(self):
        return registry.client(self.settings.mlflow_tracking_uri)

    def versions(self) -> dict[int, object]:
        found = self.client.search_model_versions(f"name='{self.settings.model_name}'")
        return {int(v.version): v for v in found}

    def train_all(self) -> list[TrainResult]:
        return [
            train_family(spec, self.settings, publisher=self.publisher)
            for spec in discover_families(support.MODELS).values()
        ]


@pytest.fixture(scope="module")
def trained(mlflow_server: str, pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    project = f"test-{uuid.uuid4().hex[:10]}"
    ensure_topics(project, [TOPIC_MODEL_PROMOTIONS])
    ensure_subscription(project, SUBSCRIPTION, TOPIC_MODEL_PROMOTIONS)
    store = FileBlobStore(tmp_path_factory.mktemp("training") / "datasets")
    support.commit_sample_version(store, 1)
    settings = support.trainer_settings(store, mlflow_server, support.unique_model_name(), project)
    state = Trained(settings, store, project, Publisher(project), [])
    state.first = state.train_all()
    yield state


def test_both_families_train_and_register_tagged_versions(trained: Trained) -> None:
    assert [(r.family, r.status, r.dataset_version) for r in trained.first] == [
        ("gradient_boosting", "trained", 1),
        ("linear_regression", "trained", 1),
    ]
    versions = trained.versions()
    assert sorted(versions) == sorted(r.model_version for r in trained.first)
    train_rows = len(load_versions(trained.store, 1)[0])
    for result in trained.first:
        tags = versions[result.model_version].tags
        assert tags["family"] == result.family
        assert tags["dataset_version"] == "1" and tags["dataset_versions"] == "1"
        assert int(tags["train_rows"]) == train_rows
        assert float(tags["holdout_mae"]) == pytest.approx(result.holdout.mae)
        assert tags["promotion_decision"] == result.decision.label
        assert tags["promotion_reason"] == result.decision.reason
        # The run behind it: experiment = family, with params and metrics.
        run = trained.client.get_run(versions[result.model_version].run_id)
        assert trained.client.get_experiment(run.info.experiment_id).name == result.family
        assert run.data.params["dataset_version"] == "1"
        assert {"train_mae", "holdout_mae", "holdout_rmse", "holdout_r2", "baseline_median_mae"} <= set(
            run.data.metrics
        )
        assert run.data.metrics["holdout_mae"] < run.data.metrics["baseline_median_mae"]
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.runName"] == f"{result.family}-v1"
        # The logged model belongs to the run's experiment, though no run was ever the active run.
        source = versions[result.model_version].source
        assert source.startswith("models:/m-"), source
        logged = trained.client.get_logged_model(source.removeprefix("models:/"))
        assert (logged.experiment_id, logged.source_run_id) == (run.info.experiment_id, run.info.run_id)
        assert str(logged.status) == "READY" and logged.params["dataset_version"] == "1"
        # The reference profile of the train rows (mlapp measures input drift against it), found from the version.
        profile = registry.load_profile(trained.settings.mlflow_tracking_uri, versions[result.model_version])
        assert profile is not None and profile.rows == train_rows and "sqft_living" in profile.numeric


def test_the_champion_is_the_better_version_on_the_holdout(trained: Trained) -> None:
    first, second = trained.first
    assert first.decision.promote and "no champion yet" in first.decision.reason
    assert second.decision.compared_with_version == first.model_version
    assert second.decision.promote == (second.holdout.mae < first.holdout.mae)
    best = min(trained.first, key=lambda r: r.holdout.mae)
    champion = registry.get_champion(trained.client, trained.settings.model_name)
    assert champion is not None and int(champion.version) == best.model_version
    info = registry.describe(champion)
    assert info["family"] == best.family and info["dataset_version"] == 1
    assert info["holdout_mae"] == pytest.approx(best.holdout.mae)


def test_each_promotion_is_announced_on_model_promotions(trained: Trained) -> None:
    promoted = [r for r in trained.first if r.decision.promote]
    events = support.pull_events(trained.project, SUBSCRIPTION, want=len(promoted))
    assert [e.type for e in events] == ["model.promoted"] * len(promoted)
    by_version = {e.data["version"]: e for e in events}
    for result in promoted:
        event = by_version[result.model_version]
        assert event.event_id == result.event_id
        assert event.data == {
            "name": trained.settings.model_name,
            "version": result.model_version,
            "family": result.family,
            "dataset_version": 1,
            "holdout_mae": pytest.approx(result.holdout.mae),
            "previous_version": result.decision.compared_with_version,
        }


def test_the_logged_model_serves_the_same_price_through_the_single_record_path(trained: Trained) -> None:
    """What mlapp does: load through common.registry, then features.transform_record + model.predict."""
    holdout = load_versions(trained.store, 1)[1]
    records = [{k: row[k] for k in FIELD_NAMES} for row in holdout.head(25).to_dict("records")]
    for result in trained.first:
        pipeline = registry.load_version(
            trained.settings.mlflow_tracking_uri, trained.settings.model_name, result.model_version
        )
        batch = pipeline.predict(holdout.head(25))
        features, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
        single = np.array([model.predict(features.transform_record(record))[0] for record in records])
        np.testing.assert_allclose(single, batch, rtol=1e-9)
        assert (single > 10_000).all(), "prices in dollars"
    by_alias = registry.load_model(
        registry.model_uri(trained.settings.model_name, alias="champion"), trained.settings.mlflow_tracking_uri
    )
    assert by_alias.predict(holdout.head(3)).shape == (3,)


def test_the_champion_moves_prices_the_right_way_and_ignores_text_case_and_spacing(trained: Trained) -> None:
    """The behavioural checks (tests/model_behaviour.py) on the champion as mlapp loads it, over every sample
    house; each family's own checks are in test_model_behaviour.py."""
    champion = registry.load_model(
        registry.model_uri(trained.settings.model_name, alias="champion"), trained.settings.mlflow_tracking_uri
    )
    houses = support.sample_rows().loc[:, list(FIELD_NAMES)]
    effects = behaviour.directional_effects(champion.predict, houses)
    assert all(effect.holds for effect in effects), "; ".join(map(str, effects))
    assert behaviour.invariance_breaks(champion.predict, houses) == {}


def test_a_second_run_without_a_new_version_trains_nothing(trained: Trained) -> None:
    before = trained.versions()
    again = trained.train_all()
    assert [(r.status, r.dataset_version) for r in again] == [("skipped", 1), ("skipped", 1)]
    assert [r.run_id for r in again] == [r.run_id for r in trained.first]
    assert trained.versions().keys() == before.keys()


def test_a_new_version_retrains_and_moves_the_alias_only_for_a_better_model(trained: Trained) -> None:
    client, name = trained.client, trained.settings.model_name
    champion_before = int(registry.get_champion(client, name).version)
    support.commit_sample_version(trained.store, 2)
    results = trained.train_all()
    assert [(r.status, r.dataset_version) for r in results] == [("trained", 2), ("trained", 2)]

    train, holdout, versions = load_versions(trained.store, 2)
    assert versions == [1, 2]
    expected_champion = champion_before
    tags_of = trained.versions()
    for result in results:
        tags = tags_of[result.model_version].tags
        assert tags["dataset_version"] == "2" and tags["dataset_versions"] == "1,2"
        assert int(tags["train_rows"]) == len(train) and int(tags["holdout_rows"]) == len(holdout)
        # The candidate was compared with the champion of that moment, scored on the same (new) holdout.
        compared = int(tags["compared_with_version"])
        assert compared == expected_champion
        champion_model = registry.load_version(trained.settings.mlflow_tracking_uri, name, compared)
        champion_mae = evaluate(holdout["price"].to_numpy(), champion_model.predict(holdout)).mae
        assert float(tags["compared_champion_mae"]) == pytest.approx(champion_mae)
        assert math.isfinite(result.holdout.mae)
        better = result.holdout.mae < champion_mae
        assert result.decision.promote == better, result.decision.reason
        assert tags["promotion_decision"] == ("promoted" if better else "rejected")
        if better:
            expected_champion = result.model_version
    assert int(registry.get_champion(client, name).version) == expected_champion

    promoted = [r for r in results if r.decision.promote]
    events = support.pull_events(trained.project, SUBSCRIPTION, want=len(promoted), timeout=10 if promoted else 3)
    assert sorted(e.data["version"] for e in events) == sorted(r.model_version for r in promoted)
    assert all(e.data["dataset_version"] == 2 for e in events)


def test_version_tags_describe_a_model_for_the_serving_app(trained: Trained) -> None:
    version = trained.versions()[trained.first[0].model_version]
    info = registry.describe(version)
    assert info["name"] == trained.settings.model_name
    assert info["version"] == trained.first[0].model_version
    assert info["family"] == "gradient_boosting" and info["dataset_version"] == 1
    assert {"holdout_mae", "holdout_rmse", "holdout_r2", "holdout_rows"} <= set(info)
    assert isinstance(info["holdout_rows"], int | float) and info["holdout_rows"] > 0


def test_get_champion_is_none_for_an_unknown_model(trained: Trained) -> None:
    assert registry.get_champion(trained.client, support.unique_model_name()) is None
    assert registry.get_champion(trained.client, trained.settings.model_name, alias="no-such-alias") is None
