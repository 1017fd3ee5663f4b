"""mlapp as it runs in production: real gunicorn with two workers (started by the launcher `make up` uses),
multiprocess metrics, models logged to and loaded from a real MLflow server. The bus is off here, so every
model these servers pick up was found by polling the champion alias (promotions made with no subscriber)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from threadpoolctl import threadpool_limits

from common import registry
from common.schema import FIELD_NAMES
from tests import mlapp_fixtures as fx

pytestmark = pytest.mark.integration


class Client:
    """Sends /predict requests and counts the answers by status, to compare with the server's own counters."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()

    def predict(self, record: dict[str, Any]) -> requests.Response:
        # A new connection per request (no session): gunicorn hands connections to either worker.
        response = requests.post(f"{self.url}/predict", json=record, timeout=10)
        with self._lock:
            self.statuses[response.status_code] += 1
        return response

    def served_version(self) -> int | None:
        response = self.predict(fx.record())
        return response.json()["model"]["version"] if response.status_code == 200 else None


def expected(tracking_uri: str, model_name: str, version: int, records: list[dict[str, Any]]) -> list[float]:
    """What the logged pipeline itself (loaded back from MLflow) predicts on a one-row DataFrame of each record,
    the way training-time code predicts."""
    pipeline = registry.load_version(tracking_uri, model_name, version)
    with threadpool_limits(limits=1):  # as in mlapp; spinning OpenMP teams are slow on a busy machine
        return [float(pipeline.predict(pd.DataFrame([r], columns=list(FIELD_NAMES)))[0]) for r in records]


def test_serves_the_champion_found_by_polling_and_swaps_without_restart(
    mlflow_server: str, tmp_path: Path, logs_dir: Path
) -> None:
    model_name = f"mlapp-gunicorn-{uuid.uuid4().hex[:8]}"
    env = fx.mlapp_env(mlflow_server, model_name, tmp_path / "prom", MODEL_POLL_SECONDS="1")
    log_path = logs_dir / "mlapp-gunicorn.log"
    # Registering is slow (a run, a logged model, a version): done while gunicorn boots. Nothing is promoted yet.
    with ThreadPoolExecutor(max_workers=1) as registrar:
        first = registrar.submit(
            fx.register, mlflow_server, model_name, fx.fitted("linear_regression"), "linear_regression"
        )
        second = registrar.submit(
            fx.register, mlflow_server, model_name, fx.fitted("gradient_boosting"), "gradient_boosting"
        )
        with fx.mlapp_server(env, log_path, workers=2) as (_child, url):
            client = Client(url)
            # Before any champion exists: alive, not ready, and a clear 503 instead of a price.
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
            refused = client.predict(fx.record())
            assert refused.status_code == 503
            assert refused.json()["error"].startswith("no model loaded yet: no version of")
            assert model_name in refused.json()["error"]
            assert requests.get(f"{url}/readyz", timeout=5).status_code == 503
            assert requests.get(f"{url}/model-info", timeout=5).status_code == 503

            v1, v2 = first.result(), second.result()
            _serve_and_swap(mlflow_server, model_name, url, client, v1, v2)

    lines = fx.log_lines(log_path)
    served_by = {e["pid"] for e in lines if e.get("path") == "/predict" and e.get("status") == 200}
    assert len(served_by) == 2, "both workers should have served"
    loads = [e for e in lines if e.get("message", "").startswith("serving model")]
    assert sorted(e["model_version"] for e in loads) == [v1, v1, v2, v2]
    # No bus here: found by the start-up check of a worker that booted late, or else by polling.
    assert {e["trigger"] for e in loads} <= {"startup", "poll"}
    assert [e["trigger"] for e in loads if e["model_version"] == v2] == ["poll", "poll"]


def _serve_and_swap(mlflow_server: str, model_name: str, url: str, client: Client, v1: int, v2: int) -> None:
    """The life of one server: first champion found by polling, contract checks, a new champion, metrics."""
    fx.promote(mlflow_server, model_name, v1)
    fx.wait_serving(url, v1, workers=2)
    assert all(client.served_version() == v1 for _ in range(10))
    assert requests.get(f"{url}/readyz", timeout=5).json()["model"]["version"] == v1
    info = requests.get(f"{url}/model-info", timeout=5).json()
    assert (info["name"], info["version"], info["family"], info["dataset_version"]) == (
        model_name,
        v1,
        "linear_regression",
        1,
    )
    assert info["holdout_mae"] == 123456.5 and info["loaded_at"]

    # No training/serving skew: each price is the logged pipeline's own prediction, to the last bit.
    records = fx.sample_records(30, offset=500)
    served = [client.predict(r).json() for r in records]
    assert [s["result"] for s in served] == expected(mlflow_server, model_name, v1, records)
    assert all(s["model"] == {"name": model_name, "version": v1, "family": "linear_regression"} for s in served)

    bad = client.predict(fx.record(sqft_lot="big", view=9))
    assert bad.status_code == 422 and set(bad.json()["fields"]) == {"sqft_lot", "view"}

    # A promotion made while nothing listens for events: polling finds it, with no restart.
    fx.promote(mlflow_server, model_name, v2)
    fx.wait_serving(url, v2, workers=2)

    batch_records = fx.sample_records(1000, offset=11)
    batch = requests.post(f"{url}/predict/batch", json={"records": batch_records}, timeout=30)
    assert batch.status_code == 200
    assert batch.json()["model"]["version"] == v2
    with ThreadPoolExecutor(max_workers=8) as pool:
        singles = [r.json() for r in pool.map(client.predict, batch_records)]
    assert {s["model"]["version"] for s in singles} == {v2}
    assert batch.json()["results"] == pytest.approx([s["result"] for s in singles], rel=1e-12, abs=0)
    assert batch.json()["results"][:50] == expected(mlflow_server, model_name, v2, batch_records[:50])

    metrics = requests.get(f"{url}/metrics", timeout=10).text
    for name in fx.SEED_METRICS:
        assert f"\n# TYPE {name} " in metrics, f"{name} missing from /metrics"
    # Multiprocess mode: the counters add up what both workers counted.
    assert fx.metric_total(metrics, "prediction_requests_total", status="success") == client.statuses[200]
    assert fx.metric_total(metrics, "prediction_requests_total", status="unavailable") == client.statuses[503]
    assert fx.metric_total(metrics, "prediction_errors_total", error_type="invalid_input") == client.statuses[422]
    assert fx.metric_total(metrics, "prediction_latency_seconds_count") == client.statuses[200]
    assert fx.metric_total(metrics, "predicted_price_dollars_count") == client.statuses[200]
    assert fx.metric_total(metrics, "prediction_requests_total", experiment="gradient_boosting") == 1000
    assert fx.metric_total(metrics, "model_loads_total") == 4  # v1 and v2 in each of the two workers
    assert fx.metric_total(metrics, "model_load_time_seconds") > 0
    assert fx.metric_total(metrics, "last_prediction_timestamp") > 1.7e9
    assert fx.metric_total(metrics, "active_prediction_requests") == 0
    assert fx.serving_versions(url) == [v2, v2], "each worker reports the version it serves"


def test_a_broken_champion_leaves_the_previous_model_serving(
    mlflow_server: str, tmp_path: Path, logs_dir: Path
) -> None:
    model_name = f"mlapp-broken-{uuid.uuid4().hex[:8]}"
    good = fx.register(mlflow_server, model_name, fx.fitted("linear_regression"), "linear_regression")
    fx.promote(mlflow_server, model_name, good)
    env = fx.mlapp_env(mlflow_server, model_name, tmp_path / "prom", MODEL_POLL_SECONDS="1")
    log_path = logs_dir / "mlapp-broken.log"
    with ThreadPoolExecutor(max_workers=1) as registrar:
        # Registered while gunicorn boots, promoted later. A model MLflow can log but mlapp must not load:
        # pickled (loading it runs code), not skops. And a copy of the good model with a damaged file.
        pickled_future = registrar.submit(
            fx.register, mlflow_server, model_name, fx.fitted("gradient_boosting"), "gradient_boosting",
            serialization_format="cloudpickle",
        )  # fmt: skip
        damaged_future = registrar.submit(fx.register_damaged, mlflow_server, model_name, good)
        with fx.mlapp_server(env, log_path, workers=1) as (_child, url):
            client = Client(url)
            fx.wait_serving(url, good, workers=1)
            assert client.served_version() == good

            def failures(reason: str) -> float:
                text = requests.get(f"{url}/metrics", timeout=10).text
                return fx.metric_total(text, "model_load_failures_total", reason=reason)

            pickled = pickled_future.result()
            fx.promote(mlflow_server, model_name, pickled)
            fx.wait_until(lambda: failures("untrusted_model") >= 1, timeout=30, what="the pickled model to be refused")
            assert all(client.served_version() == good for _ in range(20))
            check = requests.get(f"{url}/model-info", timeout=5).json()
            assert check["version"] == good
            assert check["last_check"]["outcome"] in ("failed", "skipped")
            assert f"champion version {pickled} cannot serve" in check["last_check"]["detail"]
            assert "cloudpickle" in check["last_check"]["detail"]

            # The same version is never loaded again (its artifacts cannot change): the failure counts once.
            fx.wait_until(
                lambda: requests.get(f"{url}/model-info", timeout=5).json()["last_check"]["outcome"] == "skipped",
                timeout=10,
                what="the next poll to skip the refused version",
            )
            assert failures("untrusted_model") == 1

            damaged = damaged_future.result()
            fx.promote(mlflow_server, model_name, damaged)
            fx.wait_until(lambda: failures("load_error") >= 1, timeout=30, what="the damaged model to fail loading")
            assert all(client.served_version() == good for _ in range(20))
            assert set(client.statuses) == {200}, f"no request may fail meanwhile: {client.statuses}"

    errors = [e for e in fx.log_lines(log_path) if e.get("message", "").startswith("model check failed")]
    assert {e["reason"] for e in errors} >= {"untrusted_model", "load_error"}
    assert all(e["serving_version"] == good for e in errors)
