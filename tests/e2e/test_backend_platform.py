"""The backend platform end to end, started exactly as `make up` starts it (`platform up`).

sample data -> a dataset version -> both families trained -> champion alias set; a second pipeline run with no
new data trains nothing; new data -> a new version -> retraining; a correction stored in dbapp reaches the
versioned data; SIGTERM stops every component; a restart keeps every model and dataset.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from common.blobstore import open_store
from common.dataset_versions import committed_versions
from local_platform.processes import free_port, port_open
from mlflow import MlflowClient

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "The platform is running"


def _platform(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen:
    handle = log.open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "local_platform.cli", *args],
        env=env,
        cwd=REPO,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_for_line(log: Path, process: subprocess.Popen, line: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line in log.read_text():
            return
        if process.poll() is not None:
            pytest.fail(f"platform exited with {process.returncode}:\n{log.read_text()[-6000:]}")
        time.sleep(1)
    pytest.fail(f"no {line!r} after {timeout:.0f} s:\n{log.read_text()[-6000:]}")


def _stop(process: subprocess.Popen, timeout: float = 60) -> int:
    os.killpg(process.pid, signal.SIGTERM)
    return process.wait(timeout=timeout)


@pytest.fixture(scope="module")
def platform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("platform-data")
    ports = {"PUBSUB_PORT": free_port(), "MLFLOW_PORT": free_port(), "DBAPP_PORT": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in ("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")}
    env.update({k: str(v) for k, v in ports.items()})
    env.update({"PLATFORM_DATA_DIR": str(data_dir), "BATCH_SIZE": "1000", "MLFLOW_WORKERS": "1"})
    return env


def _versions(client: MlflowClient) -> list:
    return client.search_model_versions("name='house-price'")


def test_platform_from_empty_to_champion_and_back(platform_env: dict[str, str], tmp_path: Path) -> None:
    env = platform_env
    log = tmp_path / "platform-up.log"
    mlflow_url = f"http://127.0.0.1:{env['MLFLOW_PORT']}"
    dbapp_url = f"http://127.0.0.1:{env['DBAPP_PORT']}"
    data_dir = Path(env["PLATFORM_DATA_DIR"])
    datasets = open_store((data_dir / "buckets" / "datasets").as_uri())
    landing = open_store((data_dir / "buckets" / "landing").as_uri())

    up = _platform(env, "up", log=log)
    try:
        _wait_for_line(log, up, READY_LINE, timeout=600)

        # First run: the sample data became a version and both families trained on it.
        assert [m.version for m in committed_versions(datasets)] == [1]
        client = MlflowClient(mlflow_url)
        first = _versions(client)
        assert sorted(v.tags["family"] for v in first) == ["gradient_boosting", "linear_regression"]
        assert {v.tags["dataset_version"] for v in first} == {"1"}
        champion = client.get_model_version_by_alias("house-price", "champion")
        assert champion.tags["promotion_decision"] == "promoted"

        # No new data: the pipeline trains nothing.
        pipeline_log = tmp_path / "pipeline.log"
        assert _platform(env, "pipeline", log=pipeline_log).wait(timeout=600) == 0, pipeline_log.read_text()
        assert len(_versions(client)) == len(first)

        # A correction through dbapp and a new landing file reach a new version; both families retrain on it.
        sample = pd.read_csv(REPO / "sample_dataset" / "data.csv")
        correction = sample.iloc[0].drop(["date", "price"]).to_dict()
        correction = {k: (v.item() if hasattr(v, "item") else v) for k, v in correction.items()}
        stored = requests.post(
            f"{dbapp_url}/store",
            json={"table": "collection_2", "data": {"record": correction, "corrected_price": 333000.0}},
            timeout=10,
        )
        assert stored.status_code == 201, stored.text
        more = sample[sample["price"] > 0].head(1400).copy()
        more["price"] = more["price"] * 1.05
        landing.write("uploads/more.csv", more.to_csv(index=False).encode())
        assert _platform(env, "pipeline", log=pipeline_log).wait(timeout=600) == 0, pipeline_log.read_text()
        manifests = committed_versions(datasets)
        assert [m.version for m in manifests] == [1, 2]
        assert manifests[1].corrections_cursor is not None
        second = _versions(client)
        assert len(second) == len(first) + 2
        assert {v.tags["dataset_version"] for v in second} == {"1", "2"}

        # SIGTERM stops every component.
        assert _stop(up) == 0
        for port in (env["PUBSUB_PORT"], env["MLFLOW_PORT"], env["DBAPP_PORT"]):
            assert not port_open("127.0.0.1", int(port)), f"port {port} still open after stop"
    finally:
        if up.poll() is None:
            _stop(up)

    # A restart keeps every dataset, model version and the champion.
    again = _platform(env, "up", "--skip-pipeline", log=tmp_path / "platform-up-2.log")
    try:
        _wait_for_line(tmp_path / "platform-up-2.log", again, READY_LINE, timeout=300)
        client = MlflowClient(mlflow_url)
        assert len(_versions(client)) == len(second)
        assert client.get_model_version_by_alias("house-price", "champion").version
        assert requests.get(f"{dbapp_url}/retrieve/collection_2", timeout=10).json()["items"]
    finally:
        assert _stop(again) == 0
