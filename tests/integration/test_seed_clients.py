"""The seed system's webapp as a client of this platform: exactly its requests, sent with `requests` to the real
mlapp (gunicorn, a registered champion in a real MLflow server) and the real dbapp (gunicorn, SQLite).

The seed's webapp casts its form with int()/float(), posts that dict to mlapp's `/predict` and reads
`["result"]`, stores `{**fields, "price": result}` in `collection_1`, stores a correction as `{**fields, "price":
real}` in `collection_2`, and lists both collections from `/retrieve/<collection>`'s `data`. Our own webapp must
still show what the seed stored (no model, no estimate)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from common.contracts.store import CorrectionsAnswer, ErrorAnswer, ReadinessAnswer, RetrieveAnswer, StoreAnswer
from common.schema import FIELD_NAMES, TEXT_FIELDS
from common.settings import Settings
from tests import mlapp_fixtures as mfx
from tests.integration import dbapp_fixtures as dfx
from tests.unit import webapp_support as ws
from webapp.app import create_app
from webapp.config import WebappConfig

pytestmark = pytest.mark.integration

SEED_INTS = (
    "bedrooms", "sqft_living", "sqft_lot", "waterfront", "view", "condition", "sqft_above", "sqft_basement",
    "yr_built", "yr_renovated",
)  # fmt: skip
SEED_FLOATS = ("bathrooms", "floors")


def seed_form_data(form: dict[str, str]) -> dict[str, Any]:
    """The seed webapp's cast of its form values."""
    data: dict[str, Any] = {name: int(form[name]) for name in SEED_INTS}
    data.update({name: float(form[name]) for name in SEED_FLOATS})
    data.update({name: str(form[name]) for name in TEXT_FIELDS})
    return data


def house(street: str) -> dict[str, Any]:
    """A real house from the sample, as the seed's form would submit it (text) and cast it."""
    [rec] = mfx.sample_records(1, offset=7)
    form = {name: str(int(value)) if name in SEED_INTS else str(value) for name, value in rec.items()}
    return seed_form_data({**form, "street": street})


@pytest.fixture(scope="module")
def dbapp(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("seed-dbapp")
    env = dfx.dbapp_env(tmp / "dbapp.sqlite3", tmp / "prom")
    with dfx.dbapp_server(env, logs_dir / "seed-clients-dbapp.log", workers=2) as (_child, url):
        yield url


@pytest.fixture(scope="module")
def mlapp(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[str]:
    model_name = f"seed-clients-{uuid.uuid4().hex[:8]}"
    version = mfx.register(mlflow_server, model_name, mfx.fitted("linear_regression"), "linear_regression")
    mfx.promote(mlflow_server, model_name, version)
    env = mfx.mlapp_env(mlflow_server, model_name, tmp_path_factory.mktemp("seed-mlapp") / "prom")
    with mfx.mlapp_server(env, logs_dir / "seed-clients-mlapp.log", workers=1) as (_child, url):
        mfx.wait_serving(url, version, workers=1, timeout=120)
        yield url


def seed_store(dbapp: str, table: str, data: dict[str, Any]) -> requests.Response:
    return requests.post(f"{dbapp}/store", json={"table": table, "data": data}, timeout=10)


def seed_history(dbapp: str, collection: str) -> list[dict[str, Any]]:
    response = requests.get(f"{dbapp}/retrieve/{collection}", timeout=10)
    assert response.status_code == 200, response.text
    RetrieveAnswer.model_validate(response.json())
    return response.json().get("data", [])


def test_the_seed_webapp_predicts_stores_and_lists_its_prediction(mlapp: str, dbapp: str) -> None:
    data = house("1 Seed Predict Way")
    response = requests.post(f"{mlapp}/predict", json=data, timeout=10)
    assert response.status_code == 200, response.text
    predicted_price = response.json()["result"]
    assert isinstance(predicted_price, float) and predicted_price > 0

    stored = seed_store(dbapp, "collection_1", {**data, "price": predicted_price})
    assert stored.status_code == 201, stored.text
    body = stored.json()
    StoreAnswer.model_validate(body)
    assert body["success"] is True and body["message"] == "Data stored in collection_1" and body["id"]

    [item] = [i for i in seed_history(dbapp, "collection_1") if i["street"] == "1 Seed Predict Way"]
    assert item["price"] == predicted_price and item["event_id"] == body["id"]
    assert {name: item[name] for name in FIELD_NAMES} == data
    assert item["model"] is None


def test_the_seed_webapp_corrects_a_house_once(dbapp: str) -> None:
    data = house("2 Seed Correction Road")
    first = seed_store(dbapp, "collection_2", {**data, "price": 512_000.0})
    assert first.status_code == 201, first.text
    assert first.json()["success"] is True and first.json()["message"] == "Data stored in collection_2"
    again = seed_store(dbapp, "collection_2", {**data, "price": 530_000.0})
    assert again.status_code == 200, again.text
    StoreAnswer.model_validate(again.json())
    assert again.json()["success"] is False
    assert again.json()["message"] == "Record already exists in collection_2"

    [item] = [i for i in seed_history(dbapp, "collection_2") if i["street"] == "2 Seed Correction Road"]
    assert item["price"] == 512_000.0 and item["predicted_price"] is None
    assert {name: item[name] for name in FIELD_NAMES} == data

    feed = dfx.page_all(f"{dbapp}/corrections", limit=500)
    CorrectionsAnswer.model_validate({"items": feed, "next_cursor": None, "has_more": False})
    [correction] = [i for i in feed if i["record"]["street"] == "2 Seed Correction Road"]
    assert correction["corrected_price"] == 512_000.0 and correction["event_id"] == first.json()["id"]


def test_concurrent_seed_corrections_across_workers_store_one_document(dbapp: str) -> None:
    data = house("3 Race Street")

    def correct(i: int) -> int:
        return seed_store(dbapp, "collection_2", {**data, "price": 400_000.0 + i}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(correct, range(6)))
    assert statuses == [200] * 5 + [201]
    assert len([i for i in seed_history(dbapp, "collection_2") if i["street"] == "3 Race Street"]) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"table": "collection_3", "data": {"price": 1.0}}, "Invalid table name"),
        ({"table": "collection_1"}, "Missing table or data"),
        ({"data": {"price": 1.0}}, "Missing table or data"),
        ({"table": "collection_2", "data": {}}, "Missing table or data"),
    ],
)
def test_the_seed_error_answers_are_400_with_an_error(dbapp: str, body: dict[str, Any], error: str) -> None:
    response = requests.post(f"{dbapp}/store", json=body, timeout=10)
    assert response.status_code == 400
    ErrorAnswer.model_validate(response.json())
    assert response.json()["error"].startswith(error)
    assert "collection_1, collection_2" in response.json()["error"]


def test_the_seed_health_probe(dbapp: str) -> None:
    response = requests.get(f"{dbapp}/health", timeout=10)
    assert response.status_code == 200
    assert ReadinessAnswer.model_validate(response.json()).status == "ready"


def test_our_webapp_shows_what_the_seed_stored(dbapp: str, mlapp: str, tmp_path: Path) -> None:
    prediction = house("4 Seed History Lane")
    assert seed_store(dbapp, "collection_1", {**prediction, "price": 456_789.0}).status_code == 201
    assert seed_store(dbapp, "collection_2", {**house("5 Seed History Lane"), "price": 654_321.0}).status_code == 201
    settings = Settings.from_env(
        "webapp", {"GCP_PROJECT": "seed-clients", "DBAPP_URL": dbapp, "PLATFORM_DATA_DIR": str(tmp_path)}
    )
    config = WebappConfig.from_env({"MLAPP_URL": mlapp, "SECRET_KEY": ws.SECRET}, settings=settings)
    client = create_app(config=config, bus=ws.NoBus()).test_client()

    predictions = client.get("/show_predictions?tab=predictions")
    assert predictions.status_code == 200
    text = ws.text_of(predictions.get_data(as_text=True))
    assert f"4 Seed History Lane, {prediction['city']}, {prediction['statezip']}" in text
    assert "$456,789" in text
    corrections = client.get("/show_predictions?tab=corrections")
    assert corrections.status_code == 200
    assert "5 Seed History Lane" in ws.text_of(corrections.get_data(as_text=True))
    assert "$654,321" in ws.text_of(corrections.get_data(as_text=True))

    health, ready = client.get("/health?verbose=1"), client.get("/readyz?verbose=1")
    assert (health.status_code, health.get_json()) == (ready.status_code, ready.get_json())
    assert health.get_json()["dbapp"] == {"url": dbapp, "reachable": True, "ready": True}
