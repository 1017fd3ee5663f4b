"""mlapp's HTTP contract through Flask's test client, with a real fitted pipeline of the production shape
installed in the holder (no MLflow here: loading from the registry is tested in tests/integration)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.schema import FIELD_NAMES
from mlapp.app import create_app
from mlapp.config import MlappConfig
from mlapp.metrics import REGISTRY
from mlapp.model_holder import InvalidModel, ModelHolder, ServingModel
from tests import mlapp_fixtures as fx

FAMILY = "linear_regression"
INFO = {"name": "house-price", "version": 7, "family": FAMILY, "dataset_version": 3, "holdout_mae": 98765.4}


def build(max_batch: int = 10_000, with_model: bool = True) -> tuple[Flask, ModelHolder]:
    config = MlappConfig.from_env({"MAX_BATCH_RECORDS": str(max_batch), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    holder = ModelHolder(config.settings.mlflow_tracking_uri, "house-price")
    if with_model:
        holder.install(ServingModel.from_pipeline(fx.fitted(FAMILY), INFO, load_seconds=0.25))
    return create_app(config=config, holder=holder, background=False), holder


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return build()[0].test_client()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def expected_price(record: dict[str, Any]) -> float:
    """The fitted pipeline's own answer on a DataFrame: what training-time code computes for this house."""
    return float(fx.fitted(FAMILY).predict(pd.DataFrame([record], columns=list(FIELD_NAMES)))[0])


def test_predict_returns_the_pipelines_price_and_the_model(client: FlaskClient) -> None:
    before = metric("prediction_requests_total", status="success", experiment=FAMILY)
    for record in fx.sample_records(25, offset=100):
        response = client.post("/predict", json=record, headers={"X-Request-ID": "unit-test-1"})
        assert response.status_code == 200, response.json
        body = response.json
        assert body == {"result": body["result"], "model": {"name": "house-price", "version": 7, "family": FAMILY}}
        assert isinstance(body["result"], float)
        assert body["result"] == expected_price(record)  # bit-identical: no training/serving skew
        assert response.headers["X-Request-ID"] == "unit-test-1"
    assert metric("prediction_requests_total", status="success", experiment=FAMILY) == before + 25
    assert metric("predicted_price_dollars_count") >= 25
    assert metric("last_prediction_timestamp") > 0


def test_bad_record_is_422_naming_every_bad_field(client: FlaskClient) -> None:
    record = fx.record(bedrooms="three", sqft_living=-5, city="  ", waterfront=True)
    del record["country"]
    before = metric("prediction_errors_total", error_type="invalid_input", experiment=FAMILY)
    response = client.post("/predict", json=record)
    assert response.status_code == 422
    fields = response.json["fields"]
    assert set(fields) == {"bedrooms", "sqft_living", "city", "waterfront", "country"}
    assert fields["bedrooms"].startswith("must be a number")
    assert fields["sqft_living"] == "must be at least 1 (got -5)"
    assert fields["country"] == "is required"
    assert "bedrooms" in response.json["error"]
    assert "result" not in response.json
    assert metric("prediction_errors_total", error_type="invalid_input", experiment=FAMILY) == before + 1

    cross = client.post("/predict", json=fx.record(yr_built=2000, yr_renovated=1990))
    assert cross.status_code == 422 and set(cross.json["fields"]) == {"yr_renovated"}


def test_a_body_that_is_not_a_json_object_is_refused_clearly(client: FlaskClient) -> None:
    not_json = client.post("/predict", data="bedrooms=3", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json["error"]
    a_list = client.post("/predict", json=[fx.record()])
    assert a_list.status_code == 422 and a_list.json["fields"] == {
        "record": "must be a JSON object with the house fields"
    }
    assert client.post("/predict", data=b"").status_code == 400


def test_without_a_model_every_answer_is_503_never_a_price() -> None:
    app, holder = build(with_model=False)
    client = app.test_client()
    before = metric("prediction_errors_total", error_type="model_unavailable", experiment="none")
    response = client.post("/predict", json=fx.record())
    assert response.status_code == 503
    assert response.json == {"error": holder.unavailable_reason()}
    assert response.json["error"].startswith("no model loaded yet: ")
    batch = client.post("/predict/batch", json={"records": [fx.record()]})
    assert batch.status_code == 503 and "results" not in batch.json
    for path in ("/readyz", "/health", "/model-info"):
        probe = client.get(path)
        assert probe.status_code == 503, path
        assert probe.json["error"].startswith("no model loaded yet"), path
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    assert metric("prediction_errors_total", error_type="model_unavailable", experiment="none") == before + 1

    holder.install(ServingModel.from_pipeline(fx.fitted(FAMILY), INFO))
    assert client.get("/readyz").json == {
        "status": "ready",
        "model": {"name": "house-price", "version": 7, "family": FAMILY},
    }
    assert client.post("/predict", json=fx.record()).status_code == 200


def test_batch_of_1000_equals_single_predictions(client: FlaskClient) -> None:
    records = fx.sample_records(1000, offset=7)
    response = client.post("/predict/batch", json={"records": records})
    assert response.status_code == 200
    body = response.json
    assert body["model"] == {"name": "house-price", "version": 7, "family": FAMILY}
    assert len(body["results"]) == 1000
    singles = [client.post("/predict", json=r).json["result"] for r in records[:200]]
    # The vectorised and single-record paths give the same features; the regressor may sum in another order.
    np.testing.assert_allclose(body["results"][:200], singles, rtol=1e-12, atol=0)
    expected = fx.fitted(FAMILY).predict(pd.DataFrame(records, columns=list(FIELD_NAMES)))
    np.testing.assert_allclose(body["results"], expected, rtol=1e-12, atol=0)


def test_batch_errors_name_the_record_index_and_fields(client: FlaskClient) -> None:
    records = fx.sample_records(5)
    records[3] = {**records[3], "floors": 0, "statezip": ""}
    records[4] = "not a record"
    response = client.post("/predict/batch", json={"records": records})
    assert response.status_code == 422
    body = response.json
    assert body["records"] == {
        "3": {"floors": "must be at least 1 (got 0)", "statezip": "is required"},
        "4": {"record": "must be a JSON object with the house fields"},
    }
    assert body["invalid_count"] == 2 and "2 of 5 records are invalid" in body["error"]

    for bad_body in ({"rows": []}, [fx.record()], {"records": fx.record()}):
        wrong = client.post("/predict/batch", json=bad_body)
        assert wrong.status_code == 422 and wrong.json["fields"] == {"records": "must be a list of house records"}
    assert client.post("/predict/batch", json={"records": []}).json["results"] == []


def test_batch_size_is_limited() -> None:
    client = build(max_batch=10)[0].test_client()
    response = client.post("/predict/batch", json={"records": fx.sample_records(11)})
    assert response.status_code == 413
    assert response.json["error"] == "too many records: at most 10 per batch (got 11); split the batch"
    assert client.post("/predict/batch", json={"records": fx.sample_records(10)}).status_code == 200


def test_model_info_describes_the_loaded_version(client: FlaskClient) -> None:
    body = client.get("/model-info").json
    assert {k: body[k] for k in INFO} == INFO
    assert body["alias"] == "champion" and body["load_seconds"] == 0.25
    assert body["loaded_at"].endswith("+00:00")


def test_metrics_expose_the_seed_names_with_their_labels(client: FlaskClient) -> None:
    client.post("/predict", json=fx.record())
    text = client.get("/metrics").get_data(as_text=True)
    for name in fx.SEED_METRICS:
        assert f"\n# TYPE {name} " in text, name
    assert f'prediction_requests_total{{experiment="{FAMILY}",status="success"}}' in text
    assert f'prediction_latency_seconds_bucket{{experiment="{FAMILY}",le="0.001"}}' in text
    # Error series exist at 0 as soon as a family serves, so error-rate queries are never empty.
    assert f'prediction_errors_total{{error_type="prediction_error",experiment="{FAMILY}"}}' in text


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and "error" in missing.json
    wrong_method = client.get("/predict")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json


def test_a_pipeline_that_is_not_ours_or_prices_nonsense_is_refused() -> None:
    with pytest.raises(InvalidModel, match="steps 'features' and 'model'"):
        ServingModel.from_pipeline(fx.fitted(FAMILY).named_steps["model"], INFO)

    class Negative:
        def predict(self, x: np.ndarray) -> np.ndarray:
            return -np.ones(len(x))

    pipeline = fx.fitted(FAMILY)
    broken = type(pipeline)([("features", pipeline.named_steps["features"]), ("model", Negative())])
    with pytest.raises(InvalidModel, match="not a positive number"):
        ServingModel.from_pipeline(broken, INFO)
