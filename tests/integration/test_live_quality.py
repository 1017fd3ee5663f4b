"""Live quality end to end: two versions registered in a real MLflow server (one champion), the real mlapp
(gunicorn) reading the registry, the real dbapp (gunicorn, two workers, SQLite) storing predictions and
corrections through `POST /store`, and webapp answering `GET /api/models` and `/model` from both."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from common import registry
from common.contracts.quality import ModelsAnswer
from common.events import Event
from common.settings import Settings
from local_platform.processes import free_port
from tests import mlapp_fixtures as mfx
from tests.integration import dbapp_fixtures as dfx
from webapp.app import create_app
from webapp.config import WebappConfig

pytestmark = pytest.mark.integration

LINEAR_MAE, BOOSTING_MAE = 95_000.5, 81_000.25
REASON = "MAE 81,000 < champion v1 MAE 95,001"


class NoBus:
    def publish(self, event: Event, timeout: float = 30.0) -> str:
        raise AssertionError(f"nothing is published here, got {event.type}")


@dataclass(frozen=True)
class Stack:
    model_name: str
    linear: int  # version numbers
    boosting: int
    mlapp: str
    dbapp: str


@pytest.fixture(scope="module")
def stack(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[Stack]:
    name = f"quality-{uuid.uuid4().hex[:8]}"
    linear = mfx.register(mlflow_server, name, mfx.fitted("linear_regression"), "linear_regression")
    boosting = mfx.register(mlflow_server, name, mfx.fitted("gradient_boosting"), "gradient_boosting")
    client = registry.client(mlflow_server)
    registry.set_version_tags(
        client, name, linear, {"holdout_mae": LINEAR_MAE, "promotion_decision": "promoted", "promotion_reason": "x"}
    )
    registry.set_version_tags(
        client,
        name,
        boosting,
        {"holdout_mae": BOOSTING_MAE, "promotion_decision": "promoted", "promotion_reason": REASON,
         "compared_with_version": linear},
    )  # fmt: skip
    mfx.promote(mlflow_server, name, boosting)
    tmp = tmp_path_factory.mktemp("live-quality")
    mlapp_env = mfx.mlapp_env(mlflow_server, name, tmp / "prom-mlapp")
    db_env = dfx.dbapp_env(tmp / "dbapp.sqlite3", tmp / "prom-dbapp", DBAPP_QUALITY_CACHE_SECONDS="0")
    with (
        mfx.mlapp_server(mlapp_env, logs_dir / "live-quality-mlapp.log", workers=1) as (_mlapp, mlapp_url),
        dfx.dbapp_server(db_env, logs_dir / "live-quality-dbapp.log", workers=2) as (_dbapp, dbapp_url),
    ):
        mfx.wait_until(lambda: requests.get(f"{mlapp_url}/readyz", timeout=5).status_code == 200, 60, "mlapp model")
        yield Stack(name, linear, boosting, mlapp_url, dbapp_url)


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def store(url: str, table: str, data: dict[str, Any]) -> None:
    response = requests.post(f"{url}/store", json={"table": table, "data": data}, timeout=10)
    assert response.status_code == 201, response.text


def webapp(stack: Stack, tmp_path: Path, dbapp_url: str | None = None) -> Any:
    env = {"GCP_PROJECT": "live-quality", "PLATFORM_DATA_DIR": str(tmp_path), "DBAPP_URL": dbapp_url or stack.dbapp}
    config = WebappConfig.from_env(
        {"MLAPP_URL": stack.mlapp, "SECRET_KEY": "live-quality-secret-0123456789"}, Settings.from_env("webapp", env)
    )
    return create_app(config=config, bus=NoBus()).test_client()


def test_corrections_stored_through_dbapp_give_each_version_its_live_mae(stack: Stack, tmp_path: Path) -> None:
    linear = {"name": stack.model_name, "version": stack.linear, "family": "linear_regression"}
    boosting = {"name": stack.model_name, "version": stack.boosting, "family": "gradient_boosting"}
    house = dfx.record()
    store(stack.dbapp, "collection_1", {"record": house, "result": 400_000.0, "model": boosting, "event_id": "p-1"})
    for corrected, predicted in [(500_000.0, 450_000.0), (300_000.0, 330_000.0)]:  # linear: 50,000 and 30,000 off
        store(stack.dbapp, "collection_2", dfx.correction(corrected, predicted, model=linear))
    store(stack.dbapp, "collection_2", dfx.correction(420_000.0, 400_000.0, model=boosting))  # 20,000 off
    # Only the prediction's event id: dbapp takes the model and price from the stored prediction (10,000 off).
    store(stack.dbapp, "collection_2", dfx.correction(410_000.0, None, prediction_event_id="p-1"))
    store(stack.dbapp, "collection_2", dfx.correction(123_456.0, None))  # the seed's kind: knows nothing, not counted

    client = webapp(stack, tmp_path)
    response = client.get("/api/models")
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = {v.version: v for v in ModelsAnswer.model_validate(response.get_json()).root}
    assert list(answer) == [stack.boosting, stack.linear]  # newest first
    champion, first = answer[stack.boosting], answer[stack.linear]
    assert (champion.family, champion.status, champion.dataset_version) == ("gradient_boosting", "champion", 1)
    assert (champion.holdout_mae, champion.live_mae, champion.live_corrections) == (BOOSTING_MAE, 15_000.0, 2)
    assert champion.decision is not None and champion.decision.reason == REASON
    assert champion.decision.compared_with_version == stack.linear
    assert (first.status, first.holdout_mae, first.live_mae, first.live_corrections) == (
        "retired",
        LINEAR_MAE,
        40_000.0,
        2,
    )

    page = client.get("/model")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert '<svg class="mae-chart"' in body and body.count('<table class="versions">') == 2
    text = text_of(body)
    assert "$15,000 2 corrections champion" in text and "$40,000 2 corrections retired" in text and REASON in text

    # Every gunicorn worker of dbapp reports the same values (computed at scrape time, never summed).
    for _ in range(6):
        metrics = requests.get(f"{stack.dbapp}/metrics", timeout=10).text
        assert mfx.metric_samples(metrics, "model_live_mae_dollars") == [
            (f'family="gradient_boosting",version="{stack.boosting}"', 15_000.0),
            (f'family="linear_regression",version="{stack.linear}"', 40_000.0),
        ]
        assert mfx.metric_total(metrics, "model_live_corrections", version=str(stack.boosting)) == 2
    served = requests.get(f"{stack.mlapp}/metrics", timeout=10).text
    assert mfx.metric_samples(served, "model_holdout_mae_dollars") == [
        (f'family="gradient_boosting",version="{stack.boosting}"', BOOSTING_MAE)
    ]


def test_without_dbapp_the_api_is_a_503_and_the_page_shows_the_registry(stack: Stack, tmp_path: Path) -> None:
    client = webapp(stack, tmp_path, dbapp_url=f"http://127.0.0.1:{free_port()}")
    response = client.get("/api/models")
    assert response.status_code == 503
    assert response.get_json()["error"].startswith("the live quality (dbapp) is not available right now")
    page = client.get("/model")
    assert page.status_code == 200
    text = text_of(page.get_data(as_text=True))
    assert "Live errors are not available right now" in text and "$81,000" in text
