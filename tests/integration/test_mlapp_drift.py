"""Input drift as it runs in production: mlapp under real gunicorn with two workers and multiprocess metrics, models
from a real MLflow server. A version registered without a reference profile exports no PSI; the next champion,
registered with one (as the trainer registers every version), exports `model_input_drift_psi{feature}` for every
profiled field, which rises above 0.25 when houses twice as large as the training houses are sent."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from common.drift import PROFILED_TEXT
from common.schema import NUMERIC_FIELDS
from tests import mlapp_fixtures as fx

pytestmark = pytest.mark.integration

WINDOW = 200
PSI = "model_input_drift_psi"
WINDOW_METRIC = "model_input_drift_window_requests"


def drift(url: str) -> tuple[dict[str, float], list[float]]:
    """The PSI by field, and the window samples (one: the workers combine into the smallest)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    psi = {labels.removeprefix('feature="').removesuffix('"'): value for labels, value in fx.metric_samples(text, PSI)}
    return psi, [value for _, value in fx.metric_samples(text, WINDOW_METRIC)]


def shifted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "sqft_living": r["sqft_living"] * 2, "sqft_above": r["sqft_above"] * 2} for r in records]


def test_the_psi_per_field_rises_when_shifted_houses_arrive(mlflow_server: str, tmp_path: Path, logs_dir: Path) -> None:
    model_name = f"mlapp-drift-{uuid.uuid4().hex[:8]}"
    pipeline = fx.fitted("linear_regression")
    plain = fx.register(mlflow_server, model_name, pipeline, "linear_regression")
    profiled = fx.register(mlflow_server, model_name, pipeline, "linear_regression", profile=True)
    fx.promote(mlflow_server, model_name, plain)
    env = fx.mlapp_env(
        mlflow_server, model_name, tmp_path / "prom", MODEL_POLL_SECONDS="1", DRIFT_WINDOW_RECORDS=str(WINDOW)
    )
    log_path = logs_dir / "mlapp-drift.log"
    sent = iter(range(0, 4000, WINDOW))

    def batch(records: list[dict[str, Any]]) -> None:
        assert requests.post(f"{url}/predict/batch", json={"records": records}, timeout=30).status_code == 200

    with fx.mlapp_server(env, log_path, workers=2) as (_child, url):
        fx.wait_serving(url, plain, workers=2)
        batch(fx.sample_records(WINDOW))
        assert drift(url) == ({}, [0.0]), "a version without a profile exports no PSI"

        fx.promote(mlflow_server, model_name, profiled)
        fx.wait_serving(url, profiled, workers=2)

        def filled() -> bool:
            """Ordinary houses, a window's worth per batch (each batch lands on one worker)."""
            batch(fx.sample_records(WINDOW, offset=next(sent)))
            return drift(url)[1] == [WINDOW]

        fx.wait_until(filled, timeout=60, what="every worker's window to fill")
        ordinary, _ = drift(url)
        assert set(ordinary) == {*NUMERIC_FIELDS, *PROFILED_TEXT}
        assert ordinary["sqft_living"] < 0.25, ordinary

        # Houses twice as large, one request each: spread over both workers by gunicorn.
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda r: fx.predict(url, r), shifted(fx.sample_records(300, offset=3000))))
        assert {a.status_code for a in answers} == {200}
        drifted, window = drift(url)
        assert drifted["sqft_living"] > 0.25 > ordinary["sqft_living"] and window == [WINDOW]
        assert drifted["sqft_above"] > 0.25

    said = [e for e in fx.log_lines(log_path) if "has no reference profile" in e.get("message", "")]
    assert sorted(e["model_version"] for e in said) == [plain, plain], "logged once by each worker"
