"""Idempotent writes: the JSON API's `Idempotency-Key` header and the key minted into the correction form's
signed token. A retry publishes the same event id (dbapp stores by event id, insert-if-absent), so a client or a
person who sends the same write again stores it once."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from common.events import Event, event_id_for_key
from tests.integration import webapp_fixtures as wfx
from tests.unit import webapp_support as ws


class RecordingBus:
    """Accepts every event and keeps it, like Pub/Sub would."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event, timeout: float = 30.0) -> str:
        self.events.append(event)
        return event.event_id


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def client(tmp_path: Path, bus: RecordingBus) -> FlaskClient:
    return ws.make_app(tmp_path, bus=bus).test_client()


def correction(price: float = 480_000) -> dict[str, Any]:
    return {"record": ws.record(), "corrected_price": price}


def test_derived_event_ids_depend_on_key_type_and_scope_only() -> None:
    key = "order-42"
    same = event_id_for_key("correction.submitted", key)
    assert same == event_id_for_key("correction.submitted", key)
    assert uuid.UUID(same).version == 5
    others = {
        event_id_for_key("prediction.made", key),
        event_id_for_key("correction.submitted", "order-43"),
        event_id_for_key("correction.submitted", key, scope="another-client"),
    }
    assert same not in others and len(others) == 3


def test_a_retried_api_correction_answers_the_same_event_id(client: FlaskClient, bus: RecordingBus) -> None:
    headers = {"Idempotency-Key": "c0ffee-1"}
    first = client.post("/api/corrections", json=correction(), headers=headers)
    retry = client.post("/api/corrections", json=correction(), headers=headers)
    assert first.status_code == retry.status_code == 202
    assert first.get_json() == retry.get_json() == {"event_id": event_id_for_key("correction.submitted", "c0ffee-1")}
    assert [e.event_id for e in bus.events] == [first.get_json()["event_id"]] * 2
    other = client.post("/api/corrections", json=correction(), headers={"Idempotency-Key": "c0ffee-2"})
    plain = [client.post("/api/corrections", json=correction()).get_json()["event_id"] for _ in range(2)]
    assert len({first.get_json()["event_id"], other.get_json()["event_id"], *plain}) == 4


@pytest.mark.parametrize(
    ("key", "problem"),
    [("", "must not be empty"), ("has space", "visible ASCII"), ("k" * 201, "at most 200"), ("caf\u00e9", "ASCII")],
)
def test_an_unusable_key_is_a_400_naming_the_header(
    client: FlaskClient, bus: RecordingBus, key: str, problem: str
) -> None:
    response = client.post("/api/corrections", json=correction(), headers={"Idempotency-Key": key})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "Idempotency-Key" in error and problem in error
    assert bus.events == []


def test_a_retried_api_prediction_records_one_event(tmp_path: Path, bus: RecordingBus) -> None:
    with wfx.ContractMlapp() as mlapp:
        client = ws.make_app(tmp_path, bus=bus, mlapp_url=mlapp.url).test_client()
        answers = [
            client.post("/api/predict", json=ws.record(), headers={"Idempotency-Key": "p-1"}).get_json()
            for _ in range(2)
        ]
    assert answers[0] == answers[1] and answers[0]["event_id"] == event_id_for_key("prediction.made", "p-1")
    assert [e.event_id for e in bus.events] == [answers[0]["event_id"]] * 2


def test_resubmitting_the_same_correction_page_publishes_one_event_id(tmp_path: Path, bus: RecordingBus) -> None:
    with wfx.ContractMlapp() as mlapp:
        client = ws.make_app(tmp_path, bus=bus, mlapp_url=mlapp.url).test_client()
        csrf = ws.csrf_token(client.get("/predict_page").get_data(as_text=True))
        pages = [client.post("/predict", data={**ws.record(), "csrf_token": csrf}) for _ in range(2)]
    tokens = [wfx.hidden(page.get_data(as_text=True), "correction_token") for page in pages]
    form = {"csrf_token": csrf, "corrected_price": "480000"}
    for token in (tokens[0], tokens[0], tokens[1]):
        assert client.post("/correct_prediction", data={**form, "correction_token": token}).status_code == 200
    corrections = [e.event_id for e in bus.events if e.type == "correction.submitted"]
    assert corrections[0] == corrections[1] != corrections[2]


def test_the_header_is_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    for path in ("/api/predict", "/api/corrections"):
        [header] = [p for p in document["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key" and header["schema"]["maxLength"] == 200
