"""webapp against the real mlapp (gunicorn) serving a real model registered in a real MLflow server: the price on
the result page is the model's, with its family and version, and `/model` shows the registry's facts. The bus is
the Pub/Sub emulator; the published prediction carries the same price and model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from common import bus
from common.events import TOPIC_CORRECTIONS, TOPIC_PREDICTIONS
from common.settings import Settings
from tests import mlapp_fixtures as mfx
from tests.integration import webapp_fixtures as wfx
from webapp.app import create_app
from webapp.config import WebappConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def real_mlapp(
    mlflow_server: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> Iterator[tuple[str, int]]:
    model_name = f"webapp-real-{uuid.uuid4().hex[:8]}"
    version = mfx.register(mlflow_server, model_name, mfx.fitted("linear_regression"), "linear_regression")
    mfx.promote(mlflow_server, model_name, version)
    env = mfx.mlapp_env(mlflow_server, model_name, tmp_path_factory.mktemp("webapp-mlapp") / "prom")
    with mfx.mlapp_server(env, logs_dir / "webapp-real-mlapp.log", workers=1) as (_child, url):
        mfx.wait_until(lambda: requests.get(f"{url}/readyz", timeout=5).status_code == 200, 60, "mlapp to load")
        yield url, version


def test_the_result_page_shows_the_real_models_price_and_version(
    real_mlapp: tuple[str, int], pubsub_emulator: str, tmp_path: Path
) -> None:
    url, version = real_mlapp
    project = f"webapp-real-{uuid.uuid4().hex[:8]}"
    bus.ensure_topics(project, [TOPIC_PREDICTIONS, TOPIC_CORRECTIONS])
    predictions = wfx.TopicTap(project, TOPIC_PREDICTIONS)
    try:
        settings = Settings.from_env("webapp", {"GCP_PROJECT": project, "PLATFORM_DATA_DIR": str(tmp_path)})
        config = WebappConfig.from_env({"MLAPP_URL": url, "SECRET_KEY": "real-mlapp-secret-0123456789"}, settings)
        client = create_app(config=config).test_client()

        rec = mfx.sample_records(1, offset=7)[0]
        direct = requests.post(f"{url}/predict", json=rec, timeout=10).json()
        form_page = client.get("/predict_page").get_data(as_text=True)
        response = client.post("/predict", data={**wfx.form_of(rec), "csrf_token": wfx.csrf_token(form_page)})
        assert response.status_code == 200
        text = wfx.text_of(response.get_data(as_text=True))
        assert f"${direct['result']:,.0f}" in text
        assert f"linear_regression model, version {version}" in text

        published = predictions.find(lambda e: e.data["record"]["street"] == rec["street"])
        assert published.data["result"] == direct["result"]
        assert (
            published.data["model"]
            == direct["model"]
            == {
                "name": direct["model"]["name"],
                "version": version,
                "family": "linear_regression",
            }
        )

        model_page = client.get("/model")
        assert model_page.status_code == 200
        model_text = wfx.text_of(model_page.get_data(as_text=True))
        assert f"linear_regression v{version}" in model_text and "Dataset version v1" in model_text
        assert "$123,456" in model_text  # the holdout MAE tag of the registered version
    finally:
        predictions.close()
