"""dbapp and the seed system's webapp: its flat `/store` body, its answers, its rule that a house is corrected once,
the flat `/retrieve` items its history page reads, and the document size limit (also for Pub/Sub events)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from common.contracts.store import ConflictAnswer, ErrorAnswer, RetrieveAnswer, StoreAnswer
from common.dead_letters import Poison
from common.events import Event
from common.schema import FIELD_NAMES, INPUT_FIELDS, validate_record
from common.settings import Settings
from dbapp import documents
from dbapp.app import create_app
from dbapp.config import DbappConfig
from dbapp.consumer import EventSink
from dbapp.storage.sqlite import SqliteStore
from dbapp.store_body import seed_correction_id

COLLECTIONS = ("collection_1", "collection_2")


def seed_house(**overrides: Any) -> dict[str, Any]:
    """The seed webapp's form values cast as it casts them (int()/float()), plus `price`."""
    house = {spec.name: spec.example for spec in INPUT_FIELDS}
    for name in ("bedrooms", "sqft_living", "sqft_lot", "waterfront", "view", "condition", "sqft_above"):
        house[name] = int(house[name])
    for name in ("bathrooms", "floors"):
        house[name] = float(house[name])
    return {**house, "price": 450_000.0, **overrides}


def settings_for(sqlite_path: Path) -> Settings:
    return Settings.from_env("dbapp", {"GCP_PROJECT": "unit", "DBAPP_SQLITE_PATH": str(sqlite_path)})


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return create_app(settings_for(tmp_path / "dbapp.sqlite3")).test_client()


def seed_store(client: FlaskClient, table: str, data: Any):
    return client.post("/store", json={"table": table, "data": data})


# --- the seed's /store body --------------------------------------------------------------------------------


def test_a_seed_prediction_is_stored_with_the_seed_answer_and_no_model(client: FlaskClient) -> None:
    response = seed_store(client, "collection_1", seed_house(city="  Seattle "))
    assert response.status_code == 201, response.json
    body = StoreAnswer.model_validate(response.json)
    assert (body.success, body.message, body.status) == (True, "Data stored in collection_1", "stored")
    assert body.id == body.event_id
    assert str(uuid.UUID(body.id)) == body.id
    document = response.json["document"]
    assert document["result"] == 450_000.0 and document["model"] is None
    assert document["record"]["city"] == "Seattle" and "price" not in document["record"]
    assert document["record"]["bedrooms"] == 3.0  # normalised like every other record


def test_seed_predictions_of_the_same_house_are_all_stored(client: FlaskClient) -> None:
    first = seed_store(client, "collection_1", seed_house())
    second = seed_store(client, "collection_1", seed_house())
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json["id"] != second.json["id"]


def test_a_seed_correction_is_stored_once_per_house(client: FlaskClient) -> None:
    first = seed_store(client, "collection_2", seed_house(price=500_000.0))
    assert first.status_code == 201 and first.json["success"] is True
    assert first.json["message"] == "Data stored in collection_2"
    assert first.json["document"]["corrected_price"] == 500_000.0
    again = seed_store(client, "collection_2", seed_house(price=510_000.0, street=" 18810 Densmore Ave N "))
    assert again.status_code == 200, again.json
    StoreAnswer.model_validate(again.json)
    assert again.json["success"] is False and again.json["message"] == "Record already exists in collection_2"
    assert again.json["id"] == first.json["id"]
    assert again.json["document"]["corrected_price"] == 500_000.0  # the first write is kept
    other = seed_store(client, "collection_2", seed_house(street="1 Other Street"))
    assert other.status_code == 201
    assert [item["price"] for item in client.get("/retrieve/collection_2").json["data"]] == [450_000.0, 500_000.0]


def test_the_dedupe_key_is_the_normalised_house_without_its_price() -> None:
    house = validate_record(seed_house())
    same = validate_record({**seed_house(price=1.0), "bedrooms": "3", "city": f" {house['city']} "})
    assert seed_correction_id(house) == seed_correction_id(same)
    assert seed_correction_id(house) != seed_correction_id({**house, "view": 1})
    assert uuid.UUID(seed_correction_id(house)).version == 5


def test_our_correction_of_a_seed_corrected_house_is_still_stored(client: FlaskClient) -> None:
    seed_store(client, "collection_2", seed_house())
    record = {k: v for k, v in seed_house().items() if k != "price"}
    ours = seed_store(client, "collection_2", {"record": record, "corrected_price": 470_000.0})
    assert ours.status_code == 201


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (seed_house(price=-1), {"price"}),
        (seed_house(price=None), {"price"}),
        ({k: v for k, v in seed_house().items() if k != "price"}, {"price"}),
        (seed_house(bedrooms="three", yr_built=1500), {"bedrooms", "yr_built"}),
        (seed_house(street="x" * 201), {"street"}),
        (seed_house(sqft_lot=10**400), {"sqft_lot"}),
        ({"price": 1.0}, set(FIELD_NAMES)),
    ],
)
def test_a_bad_seed_body_names_its_fields_relative_to_data(
    client: FlaskClient, data: dict[str, Any], fields: set[str]
) -> None:
    response = seed_store(client, "collection_1", data)
    assert response.status_code == 422
    ErrorAnswer.model_validate(response.json)
    assert set(response.json["fields"]) == fields
    assert client.get("/retrieve/collection_1").json["count"] == 0


def test_unknown_keys_of_a_seed_body_are_not_stored(client: FlaskClient) -> None:
    response = seed_store(client, "collection_1", seed_house(date="2014-05-02", note="x" * 1000))
    assert response.status_code == 201
    assert set(response.json["document"]["record"]) == set(FIELD_NAMES)


def test_the_seed_error_answers(client: FlaskClient) -> None:
    missing = client.post("/store", json={"table": "collection_1"})
    assert missing.status_code == 400 and missing.json["error"].startswith("Missing table or data")
    invalid = seed_store(client, "predictions", seed_house())
    assert invalid.status_code == 400 and invalid.json["error"].startswith("Invalid table name 'predictions'")
    for answer in (missing, invalid):
        ErrorAnswer.model_validate(answer.json)


# --- /retrieve: flat items ---------------------------------------------------------------------------------


def test_retrieve_items_are_flat_for_both_bodies(client: FlaskClient) -> None:
    record = {k: v for k, v in seed_house().items() if k != "price"}
    model = {"name": "house-price", "version": 4, "family": "ridge"}
    ours = seed_store(client, "collection_1", {"record": record, "result": 420_000.0, "model": model})
    seed_store(client, "collection_1", seed_house(price=430_000.0))
    body = client.get("/retrieve/collection_1").json
    RetrieveAnswer.model_validate(body)
    assert (body["success"], body["collection"], body["count"]) == (True, "collection_1", 2)
    seed_item, our_item = body["data"]
    assert seed_item["price"] == 430_000.0 and seed_item["model"] is None
    assert our_item["price"] == 420_000.0 and our_item["model"] == model
    assert our_item["event_id"] == ours.json["event_id"] and our_item["cursor"] == ours.json["cursor"]
    assert {k: our_item[k] for k in FIELD_NAMES} == {**record, "bedrooms": 3.0}
    assert set(our_item) == {*FIELD_NAMES, "price", "event_id", "created_at", "cursor", "model"}

    correction = {"record": record, "corrected_price": 440_000.0, "predicted_price": 420_000.0}
    seed_store(client, "collection_2", {**correction, "prediction_event_id": ours.json["event_id"], "model": model})
    [item] = client.get("/retrieve/collection_2").json["data"]
    assert (item["price"], item["predicted_price"]) == (440_000.0, 420_000.0)
    assert item["prediction_event_id"] == ours.json["event_id"] and item["model"] == model


def test_a_legacy_document_with_a_free_form_model_shows_no_model(tmp_path: Path) -> None:
    """Documents stored before the model was bounded may hold any object: /retrieve shows null, not the object."""
    store = SqliteStore(tmp_path / "dbapp.sqlite3", COLLECTIONS)
    record = {k: v for k, v in seed_house().items() if k != "price"}
    free_form = {f"k{i}": i for i in range(999)}
    store.put("collection_2", "old-1", {"record": record, "corrected_price": 1.0, "model": free_form})
    store.put(
        "collection_2", "old-2", {"record": record, "corrected_price": 2.0, "model": {"name": "m", "version": "7"}}
    )
    client = create_app(settings_for(tmp_path / "dbapp.sqlite3"), store=store).test_client()
    items = client.get("/retrieve/collection_2").json["data"]
    assert [item["model"] for item in items] == [{"name": "m", "version": 7, "family": None}, None]
    assert [item["event_id"] for item in client.get("/corrections").json["items"]] == ["old-1", "old-2"]


# --- the document size limit -------------------------------------------------------------------------------


def test_a_document_over_the_size_limit_is_413_naming_the_limit(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 400)
    response = seed_store(client, "collection_1", seed_house(street="x" * 200))
    assert response.status_code == 413
    ErrorAnswer.model_validate(response.json)
    assert "the limit is 400 bytes" in response.json["fields"]["data"]
    assert client.get("/retrieve/collection_1").json["count"] == 0


def test_the_largest_valid_document_is_far_below_the_limit() -> None:
    text = "\U0001f3e0" * 200  # 4 bytes each in UTF-8
    record = {**{k: v for k, v in seed_house().items() if k != "price"}, "street": text, "city": text}
    record |= {"statezip": text, "country": text}
    data = {
        "record": record,
        "corrected_price": 1e9,
        "predicted_price": 1e9,
        "prediction_event_id": "p" * 128,
        "model": {"name": "n" * 128, "version": 2**31 - 1, "family": "f" * 64},
    }
    size = len(documents.canonical_json(documents.normalise(documents.Kind.CORRECTION, data)))
    assert size < documents.MAX_DOCUMENT_BYTES / 3


def test_the_consumer_rejects_an_event_over_the_size_limit_as_poison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path / "dbapp.sqlite3")
    store = SqliteStore(tmp_path / "dbapp.sqlite3", COLLECTIONS)
    sink = EventSink(store, DbappConfig(settings=settings, mongo_settle_seconds=0))
    record = {k: v for k, v in seed_house().items() if k != "price"}
    model = {"name": "house-price", "version": 1, "family": "ridge"}
    event = Event("prediction.made", {"record": record, "result": 1.0, "model": model})
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 100)
    with pytest.raises(Poison) as rejected:
        sink.handle(event)
    assert (rejected.value.reason, rejected.value.event_type) == ("invalid-data", "prediction.made")
    monkeypatch.undo()
    assert sink.handle(event) == "stored"
    bad_model = Event("prediction.made", {"record": record, "result": 1.0, "model": {**model, "extra": "x"}})
    with pytest.raises(Poison, match="invalid-data"):
        sink.handle(bad_model)
    deep: Any = 1
    for _ in range(500):
        deep = [deep]
    with pytest.raises(Poison, match="invalid-data"):
        sink.handle(Event("prediction.made", {"record": record, "result": deep, "model": model}))
    assert store.count("collection_1") == 1


def test_a_conflict_answer_matches_its_model(client: FlaskClient) -> None:
    record = {k: v for k, v in seed_house().items() if k != "price"}
    data = {"record": record, "result": 1.0, "model": {"name": "m", "version": 1}, "event_id": "e-1"}
    assert seed_store(client, "collection_1", data).status_code == 201
    conflict = seed_store(client, "collection_1", {**data, "result": 2.0})
    assert conflict.status_code == 409
    ConflictAnswer.model_validate(conflict.json)
