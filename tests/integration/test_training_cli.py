"""The `train` command against a real MLflow server: every family in turn, JSON logs on stdout, a failing
family fails the command only after the others ran, rejected candidates leave the champion alone."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from common import registry
from common.blobstore import FileBlobStore
from tests.integration import training_support as support

pytestmark = pytest.mark.integration

MEDIAN = '''"""Predicts the training median: never better than the median baseline."""
from sklearn.dummy import DummyRegressor

PARAMS = {"strategy": "median"}


def build_estimator(strategy):
    return DummyRegressor(strategy=strategy)
'''
BROKEN = '''"""Cannot even build its estimator."""
PARAMS = {"depth": -1}


def build_estimator(depth):
    raise ValueError(f"depth must be positive, got {depth}")
'''


def _train(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["train", *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_train_all_runs_every_family_and_reports_failure_at_the_end(mlflow_server: str, tmp_path: Path) -> None:
    models = support.write_families(
        tmp_path / "models",
        {
            "a_linear": (support.MODELS / "linear_regression" / "family.py").read_text(),
            "b_median": MEDIAN,
            "c_broken": BROKEN,
            "d_weak": support.WEAK_FAMILY,
        },
    )
    store = FileBlobStore(tmp_path / "datasets")
    support.commit_sample_version(store, 1)
    model_name = support.unique_model_name()
    env = {k: v for k, v in os.environ.items() if k not in ("GCP_PROJECT", "PUBSUB_EMULATOR_HOST")}
    bin_dir = str(Path(os.sys.executable).parent)
    env.update(
        {
            "PATH": f"{bin_dir}:{env.get('PATH', '')}",
            "MODELS_DIR": str(models),
            "DATASETS_BUCKET": store.url,
            "MLFLOW_TRACKING_URI": mlflow_server,
            "MODEL_NAME": model_name,
            "PUBLISH_EVENTS": "false",
            "PLATFORM_DATA_DIR": str(tmp_path / "data"),
        }
    )

    first = _train(env, "--all")
    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-3000:]
    logs = [json.loads(line) for line in first.stdout.splitlines()]  # stdout is JSON lines only
    assert all(entry["service"] == "trainer" for entry in logs)
    failed = [e for e in logs if e["message"] == "training failed"]
    assert [e["family"] for e in failed] == ["c_broken"]
    assert "depth must be positive" in failed[0]["exception"]
    finished = {e["family"]: e for e in logs if e["message"] == "training finished"}
    assert set(finished) == {"a_linear", "b_median", "d_weak"}
    assert [e["decision"] for e in (finished["a_linear"], finished["b_median"], finished["d_weak"])] == [
        "promoted",
        "rejected",
        "rejected",
    ]

    client = registry.client(mlflow_server)
    versions = {v.tags["family"]: v for v in client.search_model_versions(f"name='{model_name}'")}
    assert set(versions) == {"a_linear", "b_median", "d_weak"}
    champion = registry.get_champion(client, model_name)
    assert champion is not None and champion.version == versions["a_linear"].version
    median_reason = versions["b_median"].tags["promotion_reason"]
    assert "does not beat predicting the training median" in median_reason
    weak = versions["d_weak"].tags
    assert weak["promotion_decision"] == "rejected"
    assert weak["compared_with_version"] == champion.version
    assert f">= champion v{champion.version} MAE" in weak["promotion_reason"]

    # Run again: the three that finished are not trained twice; the broken one fails again.
    again = _train(env, "--all")
    assert again.returncode == 1
    logs = [json.loads(line) for line in again.stdout.splitlines()]
    skipped = sorted(e["family"] for e in logs if e["message"].startswith("already trained"))
    assert skipped == ["a_linear", "b_median", "d_weak"]
    assert len(client.search_model_versions(f"name='{model_name}'")) == 3
