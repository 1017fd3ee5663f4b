"""`POST /store`'s input rules through Flask's test client on a real SQLite file: every bad field named at once,
400 for a body without a usable table or data, bounded fields, bounded answers and nesting."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from common.contracts.store import StoreAnswer
from common.schema import INPUT_FIELDS
from dbapp.app import create_app
from tests.unit.test_dbapp_api import correction, prediction, record, settings_for, store


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return create_app(settings_for(tmp_path / "dbapp.sqlite3")).test_client()


# --- /store validation ------------------------------------------------------------------------------------


def test_store_accepts_a_prediction_and_returns_it_normalised(client: FlaskClient) -> None:
    response = store(client, "collection_1", prediction(record=record(bedrooms="4", city="  Seattle ")))
    assert response.status_code == 201, response.json
    body = response.json
    StoreAnswer.model_validate(body)
    assert body["status"] == "stored" and body["success"] is True
    assert body["message"] == "Data stored in collection_1" and body["id"] == body["event_id"]
    assert str(uuid.UUID(body["event_id"])) == body["event_id"]  # generated when the client sent none
    assert body["document"]["record"]["bedrooms"] == 4.0
    assert body["document"]["record"]["city"] == "Seattle"
    assert body["document"]["result"] == 450_000.0
    assert body["cursor"] == body["document"]["cursor"]


def test_store_names_every_missing_record_field(client: FlaskClient) -> None:
    response = store(client, "collection_1", prediction(record={"bedrooms": 3}))
    assert response.status_code == 422
    fields = response.json["fields"]
    missing = {spec.name for spec in INPUT_FIELDS} - {"bedrooms"}
    assert set(fields) == {f"record.{name}" for name in missing}
    assert all(message == "is required" for message in fields.values())


@pytest.mark.parametrize(
    ("table", "data", "field", "message"),
    [
        ("collection_1", prediction(result=-5), "result", "must be greater than 0"),
        ("collection_1", prediction(result=0), "result", "must be greater than 0"),
        ("collection_1", prediction(result="cheap"), "result", "must be a number"),
        ("collection_1", prediction(result=True), "result", "must be a number"),
        ("collection_1", {**prediction(), "result": None}, "result", "is required"),
        ("collection_1", prediction(model="v1"), "model", "must be a JSON object"),
        ("collection_1", prediction(model={"name": "m", "version": 1, "notes": "x"}), "model.notes", "not a known"),
        ("collection_1", prediction(model={"name": "m" * 129, "version": 1}), "model.name", "at most 128"),
        ("collection_1", prediction(model={"name": "m", "version": 0}), "model.version", "greater than or equal"),
        ("collection_1", prediction(model={"name": "m", "version": 1, "family": "f" * 65}), "model.family", "64"),
        ("collection_1", prediction(event_id="e" * 129), "event_id", "at most 128 characters"),
        ("collection_1", prediction(result="inf"), "result", "must be a finite number"),
        ("collection_1", prediction(result=10**400), "result", "must be at most"),
        ("collection_1", prediction(surprise=1), "surprise", "is not a known field"),
        ("collection_1", {"record": record(), "result": 1.0}, "model", "is required"),
        ("collection_1", prediction(record=record(condition=9)), "record.condition", "must be at most 5"),
        ("collection_1", prediction(record="a house"), "record", "must be a JSON object"),
        ("collection_2", correction(corrected_price=0), "corrected_price", "must be greater than 0"),
        ("collection_2", {"record": record()}, "corrected_price", "is required"),
        ("collection_2", correction(predicted_price="n/a"), "predicted_price", "must be a number"),
        ("collection_2", correction(prediction_event_id=""), "prediction_event_id", "non-empty string"),
        ("collection_2", correction(event_id=42), "event_id", "non-empty string"),
        ("collection_2", correction(model={"name": "m"}), "model.version", "is required"),
        ("collection_2", correction(prediction_event_id="p" * 129), "prediction_event_id", "at most 128"),
        ("collection_2", correction(record=None), "record", "is required"),
    ],
)
def test_store_rejects_bad_fields_naming_them(
    client: FlaskClient, table: str, data: dict[str, Any], field: str, message: str
) -> None:
    response = store(client, table, data)
    assert response.status_code == 422, response.json
    assert message in response.json["fields"][field]
    assert field in response.json["error"]


def test_store_reports_all_bad_fields_at_once(client: FlaskClient) -> None:
    response = store(client, "collection_2", correction(corrected_price=-1, record=record(view="lots")))
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"corrected_price", "record.view"}


@pytest.mark.parametrize("table", ["collection_3", 1, ["collection_1"], "x" * 5000])
def test_store_rejects_an_unknown_table_naming_it(client: FlaskClient, table: Any) -> None:
    response = store(client, table, prediction())
    assert response.status_code == 400
    assert response.json["error"].startswith("Invalid table name")
    assert repr(table)[:60] in response.json["fields"]["table"]
    assert "collection_1, collection_2" in response.json["fields"]["table"]
    assert len(response.json["fields"]["table"]) < 200


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"data": prediction()}, {"table"}),
        ({"table": "", "data": prediction()}, {"table"}),
        ({"table": None, "data": prediction()}, {"table"}),
        ({"table": "collection_1"}, {"data"}),
        ({"table": "collection_1", "data": {}}, {"data"}),
        ({"table": "collection_1", "data": None}, {"data"}),
        ({}, {"table", "data"}),
    ],
)
def test_store_without_table_or_data_is_a_400_listing_the_tables(
    client: FlaskClient, body: dict[str, Any], missing: set[str]
) -> None:
    response = client.post("/store", json=body)
    assert response.status_code == 400
    assert response.json["error"].startswith("Missing table or data")
    assert "collection_1, collection_2" in response.json["error"]
    assert set(response.json["fields"]) == missing


def test_store_refuses_unknown_top_level_keys(client: FlaskClient) -> None:
    body = {"table": "collection_1", "data": prediction(), **{f"extra{i}": i for i in range(9)}}
    response = client.post("/store", json=body)
    assert response.status_code == 400
    assert "'extra0'" in response.json["fields"]["body"] and "and 4 more" in response.json["fields"]["body"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"null", b"1e999999"])
def test_store_rejects_a_body_that_is_not_a_json_object(client: FlaskClient, body: bytes) -> None:
    response = client.post("/store", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]


def test_store_rejects_data_that_is_not_an_object(client: FlaskClient) -> None:
    response = client.post("/store", json={"table": "collection_1", "data": [1, 2]})
    assert response.status_code == 422
    assert response.json["fields"] == {"data": "must be a JSON object"}


def test_thousands_of_unknown_keys_are_refused_listing_the_first_20(client: FlaskClient) -> None:
    model = {"name": "m", "version": 1, **{f"k{i}": i for i in range(3000)}}
    response = store(client, "collection_2", correction(model=model))
    assert response.status_code == 422
    assert response.json["fields"] == {f"model.k{i}": "is not a known field" for i in range(20)}
    assert response.json["error"].endswith("; and 2980 more")
    assert len(response.get_data()) < 2000


def test_a_body_over_64_kib_is_413_before_parsing(client: FlaskClient) -> None:
    response = client.post("/store", data=b" " * (64 * 1024 + 1), content_type="application/json")
    assert response.status_code == 413 and "65,536 bytes" in response.json["error"]


DEEP_ARRAY, DEEP_OBJECT = "[" * 20 + "]" * 20, '{"a":' * 20 + "1" + "}" * 20  # within the JSON parser's depth


@pytest.mark.parametrize("inner", [DEEP_ARRAY, DEEP_OBJECT])
@pytest.mark.parametrize(
    ("template", "field"),
    [
        ('{"record": {"bedrooms": %s}, "result": 1, "model": {"name": "m", "version": 1}}', "record.bedrooms"),
        ('{"record": %s, "corrected_price": 1}', "record"),
        ('{"record": {}, "corrected_price": %s}', "corrected_price"),
        ('{"bedrooms": %s, "price": 1}', "bedrooms"),
    ],
)
def test_deeply_nested_data_is_refused_naming_where(client: FlaskClient, inner: str, template: str, field: str) -> None:
    body = '{"table": "collection_2", "data": %s}' % (template % inner)
    response = client.post("/store", data=body, content_type="application/json")
    assert response.status_code == 422
    [(where, message)] = response.json["fields"].items()
    assert where.startswith(field) and "nested too deeply" in message


def test_rejected_input_is_not_stored(client: FlaskClient) -> None:
    store(client, "collection_1", prediction(result=-1))
    assert client.get("/retrieve/collection_1").json["data"] == []
