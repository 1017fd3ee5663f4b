"""The retraining dispatcher without I/O: configuration, the Job made from a CronJob, and what one
`dataset.version.committed` event starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from common.dead_letters import Poison
from common.events import Event
from common.settings import ConfigError
from dispatcher.config import DispatcherConfig, Mode
from dispatcher.dispatch import Dispatcher
from dispatcher.kubernetes_jobs import INSTANTIATE_ANNOTATION, cronjob_name, job_from_cronjob, job_name
from dispatcher.outcome import DispatchFailed, Outcome

REPO = Path(__file__).resolve().parents[2]
BASE_ENV = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}


def version_event(version: int = 3) -> Event:
    data = {"version": version, "rows": {"train": 80, "valid": 20}, "manifest": "file:///x/manifest.json"}
    return Event(type="dataset.version.committed", data=data)


class FakeLauncher:
    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.fail, self.started = set(fail), set[tuple[str, int]]()

    def launch(self, family: str, dataset_version: int) -> Outcome:
        if family in self.fail:
            raise DispatchFailed("API server unreachable")
        if (family, dataset_version) in self.started:
            return Outcome.DUPLICATE
        self.started.add((family, dataset_version))
        return Outcome.STARTED

    def close(self) -> None:
        pass


def count(family: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value("dispatcher_dispatches_total", {"family": family, "outcome": outcome})
    return value or 0.0


def test_each_family_is_started_once_per_version_even_when_the_event_comes_twice() -> None:
    launcher = FakeLauncher()
    dispatcher = Dispatcher(launcher, ("linear_regression", "gradient_boosting"))
    started_before = count("linear_regression", "started")
    event = version_event(3)
    assert dispatcher.handle(event) == {"linear_regression": Outcome.STARTED, "gradient_boosting": Outcome.STARTED}
    assert dispatcher.handle(event) == {
        "linear_regression": Outcome.DUPLICATE,
        "gradient_boosting": Outcome.DUPLICATE,
    }
    assert launcher.started == {("linear_regression", 3), ("gradient_boosting", 3)}
    assert count("linear_regression", "started") - started_before == 1


def test_a_family_that_cannot_be_started_makes_the_event_come_back() -> None:
    launcher = FakeLauncher(fail=("gradient_boosting",))
    dispatcher = Dispatcher(launcher, ("linear_regression", "gradient_boosting"))
    with pytest.raises(DispatchFailed, match="gradient_boosting: API server unreachable"):
        dispatcher.handle(version_event(4))
    launcher.fail = set()
    assert dispatcher.handle(version_event(4)) == {
        "linear_regression": Outcome.DUPLICATE,
        "gradient_boosting": Outcome.STARTED,
    }


def test_events_that_are_not_dataset_versions_are_poison() -> None:
    dispatcher = Dispatcher(FakeLauncher(), ("linear_regression",))
    with pytest.raises(Poison) as wrong_type:
        dispatcher.handle(Event(type="model.promoted", data={"name": "house-price", "version": 1}))
    assert wrong_type.value.reason == "unknown-type"
    with pytest.raises(Poison) as bad_data:
        dispatcher.handle(Event(type="dataset.version.committed", data={"version": 0, "rows": {}, "manifest": "m"}))
    assert bad_data.value.reason == "invalid-data" and "version" in bad_data.value.detail


def test_the_job_is_what_kubectl_create_job_from_cronjob_makes() -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "train-gradient-boosting", "namespace": "ml", "uid": "1234-abcd"},
        "spec": {
            "schedule": "45 2 * * *",
            "jobTemplate": {
                "metadata": {"labels": {"app": "trainer"}, "annotations": {"a": "b"}},
                "spec": {"backoffLimit": 1, "template": {"spec": {"containers": [{"name": "trainer"}]}}},
            },
        },
    }
    job = job_from_cronjob(cronjob, job_name("gradient_boosting", 7), 7)
    assert job["metadata"]["name"] == "train-gradient-boosting-v7"
    assert job["metadata"]["annotations"] == {"a": "b", INSTANTIATE_ANNOTATION: "manual"}
    assert job["metadata"]["labels"]["app"] == "trainer"
    assert job["metadata"]["ownerReferences"][0] == {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": "train-gradient-boosting",
        "uid": "1234-abcd",
        "controller": True,
    }
    assert job["spec"] == cronjob["spec"]["jobTemplate"]["spec"]
    job["spec"]["backoffLimit"] = 5
    assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 1, "the CronJob must not be changed"


def test_every_family_folder_has_the_cronjob_the_dispatcher_names() -> None:
    trainers = (REPO / "k8s_ml" / "base" / "trainers.yaml").read_text()
    families = sorted(p.parent.name for p in (REPO / "models").glob("*/family.py"))
    assert families
    for family in families:
        assert f"  name: {cronjob_name(family)}\n" in trainers, f"no CronJob {cronjob_name(family)} for {family}"


def test_a_job_name_too_long_for_a_label_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 63"):
        job_name("a" * 60, 1)


def test_local_mode_finds_the_family_folders(tmp_path: Path) -> None:
    for family in ("alpha", "beta"):
        (tmp_path / family).mkdir()
        (tmp_path / family / "family.py").write_text("")
    (tmp_path / "notes").mkdir()
    config = DispatcherConfig.from_env({**BASE_ENV, "MODELS_DIR": str(tmp_path), "PLATFORM_DATA_DIR": "/d"})
    assert config.mode is Mode.LOCAL and config.families == ("alpha", "beta")
    assert config.state_dir == Path("/d/dispatcher")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DISPATCH_MODE": "cluster"}, "DISPATCH_MODE"),
        ({"DISPATCH_MODE": "kubernetes", "TRAINING_FAMILIES": "linear_regression"}, "KUBERNETES_SERVICE_HOST"),
        ({"DISPATCH_MODE": "kubernetes", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "TRAINING_FAMILIES"),
        ({"TRAINING_FAMILIES": "linear_regression,../etc"}, "TRAINING_FAMILIES"),
        ({"TRAINING_FAMILIES": "a", "DISPATCHER_PORT": "0"}, "DISPATCHER_PORT"),
    ],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        DispatcherConfig.from_env({**BASE_ENV, **env})


def test_kubernetes_mode_reads_the_pod_service_account() -> None:
    env = {
        **BASE_ENV,
        "DISPATCH_MODE": "kubernetes",
        "TRAINING_FAMILIES": "linear_regression, gradient_boosting",
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "POD_NAMESPACE": "ml",
    }
    config = DispatcherConfig.from_env(env)
    assert config.families == ("linear_regression", "gradient_boosting")
    assert config.kubernetes is not None
    assert config.kubernetes.api_url == "https://10.0.0.1:443"
    assert config.kubernetes.token_path == Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
