"""Model families: discovery of family folders, the `train` command line, and that each real family's model
survives the trip through skops with `common.registry.TRUSTED_TYPES` and predicts dollars."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from common import registry
from common.csv_validation import validate_csv
from common.settings import ConfigError
from common.training import Decision, FamilyError, FamilySpec, build_pipeline, discover_families, load_family
from common.training.config import TrainerConfig
from common.training.steps.fit import untrusted_types
from common.training.steps.register import pip_requirements
from common.training.trainer import TrainResult, TrainStatus
from model_training import __main__ as cli

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"

GOOD_FAMILY = '''"""A constant model for tests."""
from sklearn.dummy import DummyRegressor

PARAMS = {"strategy": "median"}
FEATURES = {"street_buckets": 8}


def build_estimator(strategy):
    return DummyRegressor(strategy=strategy)
'''


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = validate_csv((REPO / "sample_dataset" / "data.csv").read_bytes(), "data.csv").accepted
    return frame.sample(n=600, random_state=1).reset_index(drop=True)


def _family(root: Path, name: str, source: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "family.py").write_text(source)
    return folder


def test_the_repository_declares_both_families() -> None:
    families = discover_families(MODELS)
    assert list(families) == ["gradient_boosting", "linear_regression"]
    for name, spec in families.items():
        assert spec.name == name and spec.description
        assert spec.params, f"{name} logs no parameters"


def test_a_folder_with_family_py_is_a_family_and_other_folders_are_not(tmp_path: Path) -> None:
    _family(tmp_path, "constant", GOOD_FAMILY)
    (tmp_path / "src").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("not a family")
    families = discover_families(tmp_path)
    assert list(families) == ["constant"]
    spec = families["constant"]
    assert spec.params == {"strategy": "median"} and spec.features == {"street_buckets": 8}
    assert spec.description == "A constant model for tests."
    assert spec.estimator().get_params()["strategy"] == "median"


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("no_builder", "PARAMS = {}\n", "must define build_estimator"),
        ("bad_params", "PARAMS = [1]\ndef build_estimator():\n    pass\n", "PARAMS must be a dict"),
        ("broken", "import not_a_module_anywhere\n", "importing it failed"),
        ("Bad-Name", GOOD_FAMILY, "must be lower-case letters"),
    ],
)
def test_a_bad_family_fails_naming_the_file_and_the_problem(
    tmp_path: Path, name: str, source: str, message: str
) -> None:
    folder = _family(tmp_path, name, source)
    with pytest.raises(FamilyError, match=message) as caught:
        load_family(folder)
    if name != "Bad-Name":
        assert str(folder / "family.py") in str(caught.value)


def test_a_missing_models_folder_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(FamilyError, match="MODELS_DIR"):
        discover_families(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["gradient_boosting", "linear_regression"])
def test_each_family_round_trips_through_skops_and_predicts_dollars(
    name: str, sample: pd.DataFrame, tmp_path: Path
) -> None:
    import mlflow

    spec = discover_families(MODELS)[name]
    with threadpool_limits(limits=1, user_api="openmp"):  # as the trainer fits (TRAIN_THREADS)
        pipeline = build_pipeline(spec).fit(sample, sample["price"])
    assert untrusted_types(pipeline) == []
    path = tmp_path / "model"
    mlflow.sklearn.save_model(
        pipeline, str(path), skops_trusted_types=list(registry.TRUSTED_TYPES), pip_requirements=pip_requirements()
    )
    loaded = registry.load_model(str(path))
    expected = pipeline.predict(sample.head(50))
    np.testing.assert_array_equal(loaded.predict(sample.head(50)), expected)
    # Dollars, not log-dollars: the same order of magnitude as the prices.
    assert 50_000 < np.median(expected) < 5_000_000
    assert (expected > 0).all()


def test_a_model_with_a_class_outside_the_trusted_list_is_refused(sample: pd.DataFrame, tmp_path: Path) -> None:
    import mlflow
    from sklearn.ensemble import RandomForestRegressor

    spec = FamilySpec("forest", lambda: RandomForestRegressor(n_estimators=2, max_depth=3))
    pipeline = build_pipeline(spec).fit(sample, sample["price"])
    unknown = untrusted_types(pipeline)
    assert unknown, "a forest's tree classes are not in TRUSTED_TYPES"
    path = tmp_path / "model"
    mlflow.sklearn.save_model(
        pipeline, str(path), skops_trusted_types=[*registry.TRUSTED_TYPES, *unknown], pip_requirements=[]
    )
    with pytest.raises(registry.UntrustedModel, match="TRUSTED_TYPES"):
        registry.load_model(str(path))


def test_the_trainer_reads_its_switches_once(tmp_path: Path) -> None:
    def config(**env: str) -> TrainerConfig:
        return TrainerConfig.from_env({"PLATFORM_DATA_DIR": str(tmp_path), **env}, default_models_dir=MODELS)

    bus = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}
    assert config(**bus).publish_events and not config().publish_events  # unset: on exactly when a bus is known
    assert not any(config(PUBLISH_EVENTS=v, **bus).publish_events for v in ("false", "0", "no", "OFF"))
    with pytest.raises(ConfigError, match="PUBLISH_EVENTS is on but no event bus is configured"):
        config(PUBLISH_EVENTS="true")  # the data job's rule, word for word
    assert config().train_threads == 1 and config(TRAIN_THREADS="4").train_threads == 4
    with pytest.raises(ConfigError, match="TRAIN_THREADS must be a whole number, got 'many'"):
        config(TRAIN_THREADS="many")
    assert config(MODELS_DIR=str(tmp_path)).models_dir == tmp_path.resolve() and config().models_dir == MODELS


def test_without_models_dir_the_cli_finds_the_checkouts_families() -> None:
    assert cli.default_models_dir() == MODELS.resolve()


def test_cli_lists_the_families(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MODELS_DIR", str(MODELS))
    assert cli.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == ["gradient_boosting", "linear_regression"]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("GCP_PROJECT", "GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLATFORM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    _family(tmp_path, "first", GOOD_FAMILY)
    _family(tmp_path, "second", GOOD_FAMILY)
    return tmp_path


def test_cli_rejects_an_unknown_family(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "train_family", lambda *a, **k: pytest.fail("nothing may be trained"))
    assert cli.main(["--family", "first", "--family", "nope"]) == cli.EXIT_USAGE


def test_cli_all_tries_every_family_and_fails_if_one_failed(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tried = []

    def fake_train(spec: FamilySpec, settings, *, publisher, threads) -> TrainResult:
        tried.append(spec.name)
        assert publisher is None  # no bus configured here
        if spec.name == "first":
            raise RuntimeError("boom")
        return TrainResult(spec.name, TrainStatus.TRAINED)

    monkeypatch.setattr(cli, "train_family", fake_train)
    assert cli.main(["--all"]) == cli.EXIT_FAILED
    assert tried == ["first", "second"]
    tried.clear()
    assert cli.main(["--family", "second"]) == 0
    assert tried == ["second"]


def test_cli_exits_with_its_own_code_when_a_promotion_was_deferred(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = "deferred: champion v3 could not be scored on the holdout because of an infrastructure fault (...)"
    outcome = {"first": Decision(False, reason, 3, deferred=True), "second": Decision(False, "MAE >= champion", 3)}

    def fake_train(spec: FamilySpec, settings, *, publisher, threads) -> TrainResult:
        if isinstance(outcome[spec.name], Exception):
            raise outcome[spec.name]
        return TrainResult(spec.name, TrainStatus.TRAINED, 1, "run", 7, decision=outcome[spec.name])

    monkeypatch.setattr(cli, "train_family", fake_train)
    assert cli.main(["--all"]) == cli.EXIT_DEFERRED == 3
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    deferred = [e for e in logs if e["message"] == "promotion deferred"]
    assert [(e["family"], e["model_version"], e["reason"], e["severity"]) for e in deferred] == [
        ("first", 7, reason, "ERROR")
    ]
    # A failure weighs more than a deferral.
    outcome["second"] = RuntimeError("boom")
    assert cli.main(["--all"]) == cli.EXIT_FAILED
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "3 a promotion decision was deferred" in " ".join(capsys.readouterr().out.split())


def test_cli_requires_a_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([])
    assert caught.value.code == 2
    assert "--family" in capsys.readouterr().err


def test_cli_is_the_train_console_script() -> None:
    assert Path(sys.executable).with_name("train").exists()
