"""webapp end to end through its pages and API, with CSRF enabled, against the real dbapp (gunicorn) and its real
consumer on the Pub/Sub emulator. mlapp is `webapp_fixtures.ContractMlapp`, a real HTTP server following mlapp's
contract with a fixed pricing formula (so the expected price is exact)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.settings import Settings
from local_platform.processes import free_port
from tests.integration import webapp_fixtures as wfx
from webapp.app import create_app
from webapp.config import WebappConfig

pytestmark = pytest.mark.integration

SECRET = "webapp-test-secret-0123456789abcdef"
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def stack(pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[wfx.DbappStack]:
    project = f"webapp-{uuid.uuid4().hex[:10]}"
    with wfx.dbapp_stack(project, pubsub_emulator, tmp_path_factory.mktemp("webapp-dbapp"), logs_dir) as running:
        yield running


@pytest.fixture(scope="module")
def mlapp() -> Iterator[wfx.ContractMlapp]:
    with wfx.ContractMlapp() as server:
        yield server


@pytest.fixture(scope="module")
def taps(stack: wfx.DbappStack) -> Iterator[tuple[wfx.TopicTap, wfx.TopicTap]]:
    predictions, corrections = wfx.taps(stack.project)
    yield predictions, corrections
    predictions.close()
    corrections.close()


def make_app(stack: wfx.DbappStack, mlapp_url: str, data_dir: Path, dbapp_url: str | None = None, **overrides) -> Flask:
    settings = Settings.from_env(
        "webapp",
        {
            "GCP_PROJECT": stack.project,
            "DBAPP_URL": dbapp_url or stack.url,
            "PLATFORM_DATA_DIR": str(data_dir),
        },
    )
    config = WebappConfig.from_env({"MLAPP_URL": mlapp_url, "SECRET_KEY": SECRET}, settings=settings)
    return create_app(config=dataclasses.replace(config, **overrides))


@pytest.fixture
def client(stack: wfx.DbappStack, mlapp: wfx.ContractMlapp, tmp_path: Path) -> FlaskClient:
    mlapp.model_loaded = True
    return make_app(stack, mlapp.url, tmp_path).test_client()


def predict_via_form(client: FlaskClient, rec: dict) -> str:
    form_page = client.get("/predict_page").get_data(as_text=True)
    response = client.post("/predict", data={**wfx.form_of(rec), "csrf_token": wfx.csrf_token(form_page)})
    assert response.status_code == 200, wfx.text_of(response.get_data(as_text=True))
    return response.get_data(as_text=True)


def test_form_flow_with_csrf_publishes_the_prediction_and_the_carried_correction(
    client: FlaskClient, stack: wfx.DbappStack, taps: tuple[wfx.TopicTap, wfx.TopicTap]
) -> None:
    predictions, corrections = taps
    rec = wfx.record(street="4 Correction Way", sqft_living=2000, sqft_above=1600)
    price = wfx.expected_price(rec)

    form_page = client.get("/predict_page").get_data(as_text=True)
    no_token = client.post("/predict", data=wfx.form_of(rec))
    assert no_token.status_code == 400 and "Form expired" in no_token.get_data(as_text=True)
    result = client.post("/predict", data={**wfx.form_of(rec), "csrf_token": wfx.csrf_token(form_page)})
    assert result.status_code == 200
    page = result.get_data(as_text=True)
    text = wfx.text_of(page)
    assert f"${price:,.0f}" in text
    assert "gradient_boosting model, version 7" in text

    made = predictions.find(lambda e: e.data["record"]["street"] == "4 Correction Way")
    assert made.type == "prediction.made"
    assert made.data == {"record": rec, "result": price, "model": wfx.MODEL}

    # The correction form carries the record: the test posts only what the page holds, plus the real price.
    fields = {"csrf_token": wfx.csrf_token(page), "correction_token": wfx.hidden(page, "correction_token")}
    refused = client.post("/correct_prediction", data={**fields, "csrf_token": ""})
    assert refused.status_code == 400
    bad = client.post("/correct_prediction", data={**fields, "corrected_price": "-5"})
    assert bad.status_code == 422
    assert "The real price must be greater than 0" in wfx.text_of(bad.get_data(as_text=True))
    done = client.post("/correct_prediction", data={**fields, "corrected_price": "$612,500"})
    assert done.status_code == 200
    assert "Your correction was received" in wfx.text_of(done.get_data(as_text=True))

    published = corrections.find(lambda e: e.data["record"]["street"] == "4 Correction Way")
    assert published.type == "correction.submitted"
    assert published.data == {
        "record": rec,
        "predicted_price": price,
        "corrected_price": 612_500.0,
        "prediction_event_id": made.event_id,
        "model": wfx.MODEL,
    }
    stored = stack.stored("collection_2", published.event_id)
    assert stored["price"] == 612_500.0 and {name: stored[name] for name in rec} == rec

    history = client.get("/show_predictions?tab=corrections")
    assert history.status_code == 200
    assert "$612,500" in wfx.text_of(history.get_data(as_text=True))


def test_a_tampered_correction_form_is_refused(client: FlaskClient) -> None:
    page = predict_via_form(client, wfx.record(street="9 Tamper Road"))
    token = wfx.hidden(page, "correction_token")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.post(
        "/correct_prediction",
        data={"csrf_token": wfx.csrf_token(page), "correction_token": forged, "corrected_price": "500000"},
    )
    assert response.status_code == 400
    assert "price the house again" in wfx.text_of(response.get_data(as_text=True))


def test_invalid_answers_come_back_with_messages_and_the_values_kept(client: FlaskClient, mlapp) -> None:
    calls = len(mlapp.requests)
    form_page = client.get("/predict_page").get_data(as_text=True)
    rec = wfx.form_of(wfx.record(bedrooms="many", yr_built="1500", street=XSS))
    response = client.post("/predict", data={**rec, "csrf_token": wfx.csrf_token(form_page)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="many"' in page
    assert "Must be a number (got &#39;many&#39;)" in page
    assert "Must be at least 1700 (got 1500)" in page
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(mlapp.requests) == calls, "an invalid form must not reach mlapp"


def test_street_with_a_script_tag_is_shown_escaped_in_the_history(client: FlaskClient, stack: wfx.DbappStack) -> None:
    page = predict_via_form(client, wfx.record(street=XSS, city="Escapeville"))
    assert XSS not in page
    wfx.dfx.wait_until(
        lambda: any(i["street"] == XSS for i in stack.items("collection_1")),
        what="the XSS prediction in dbapp",
    )
    history = client.get("/show_predictions").get_data(as_text=True)
    assert "Escapeville" in history
    assert XSS not in history
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in history


def test_history_is_newest_first_and_pages_with_the_older_link(
    stack: wfx.DbappStack, mlapp: wfx.ContractMlapp, tmp_path: Path
) -> None:
    client = make_app(stack, mlapp.url, tmp_path, history_page_size=2).test_client()
    ids = []
    for i in range(3):
        response = client.post("/api/predict", json=wfx.record(street=f"{i} Paging Street"))
        assert response.status_code == 200
        ids.append(response.get_json()["event_id"])
    for event_id in ids:
        stack.stored("collection_1", event_id)
    first = client.get("/show_predictions").get_data(as_text=True)
    text = wfx.text_of(first)
    assert text.index("2 Paging Street") < text.index("1 Paging Street")
    assert "0 Paging Street" not in text
    older = wfx.link(first, "next")
    second = wfx.text_of(client.get(older).get_data(as_text=True))
    assert "0 Paging Street" in second and "2 Paging Street" not in second
    bad_cursor = client.get("/show_predictions?after=not-a-cursor")
    assert bad_cursor.status_code == 400
    assert "That page of the history does not exist" in wfx.text_of(bad_cursor.get_data(as_text=True))


def test_when_mlapp_is_down_the_page_says_so_and_corrections_are_still_accepted(
    stack: wfx.DbappStack, tmp_path: Path, taps: tuple[wfx.TopicTap, wfx.TopicTap]
) -> None:
    _, corrections = taps
    server = wfx.ContractMlapp().start()
    client = make_app(stack, server.url, tmp_path).test_client()
    page = predict_via_form(client, wfx.record(street="1 Outage Lane"))
    server.stop()  # mlapp goes down: its port now refuses connections

    form_page = client.get("/predict_page").get_data(as_text=True)
    rec = wfx.form_of(wfx.record(street="2 Outage Lane"))
    response = client.post("/predict", data={**rec, "csrf_token": wfx.csrf_token(form_page)})
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "The price service is not available right now" in wfx.text_of(body)
    assert 'value="2 Outage Lane"' in body
    assert "$" not in wfx.text_of(body) and "Traceback" not in body
    assert client.post("/api/predict", json=wfx.record()).status_code == 503
    model_page = client.get("/model")
    assert model_page.status_code == 503
    assert "not available right now" in wfx.text_of(model_page.get_data(as_text=True))

    done = client.post(
        "/correct_prediction",
        data={
            "csrf_token": wfx.csrf_token(page),
            "correction_token": wfx.hidden(page, "correction_token"),
            "corrected_price": "701000",
        },
    )
    assert done.status_code == 200
    published = corrections.find(lambda e: e.data["record"]["street"] == "1 Outage Lane")
    assert stack.stored("collection_2", published.event_id)["price"] == 701_000.0
    api = client.post("/api/corrections", json={"record": wfx.record(street="3 Outage Lane"), "corrected_price": 5e5})
    assert api.status_code == 202


def test_without_a_model_mlapp_answers_503_and_no_price_is_made_up(client: FlaskClient, mlapp) -> None:
    mlapp.model_loaded = False
    form_page = client.get("/predict_page").get_data(as_text=True)
    response = client.post("/predict", data={**wfx.form_of(wfx.record()), "csrf_token": wfx.csrf_token(form_page)})
    assert response.status_code == 503
    assert "No price model is serving yet" in wfx.text_of(response.get_data(as_text=True))
    assert "Estimated price" not in response.get_data(as_text=True)
    api = client.post("/api/predict", json=wfx.record())
    assert api.status_code == 503 and "not available" in api.get_json()["error"]
    assert client.get("/model").status_code == 503


def test_when_dbapp_is_down_the_history_page_says_so(stack, mlapp, tmp_path: Path) -> None:
    client = make_app(stack, mlapp.url, tmp_path, dbapp_url=f"http://127.0.0.1:{free_port()}").test_client()
    response = client.get("/show_predictions")
    assert response.status_code == 503
    assert "History is not available right now" in wfx.text_of(response.get_data(as_text=True))


def test_model_page_shows_the_champion_and_what_it_beat(client: FlaskClient) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    text = wfx.text_of(response.get_data(as_text=True))
    for expected in ("gradient_boosting v7", "Dataset version v3", "$81,234", "$120,456", "0.7312", "v5", "$90,100"):
        assert expected in text, expected
    assert "beats the champion" in text


def test_api_predict_and_corrections(client: FlaskClient, stack: wfx.DbappStack) -> None:
    rec = wfx.record(street="7 Api Avenue")
    response = client.post("/api/predict", json=rec)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"result", "model", "event_id"}
    assert body["result"] == wfx.expected_price(rec) and body["model"] == wfx.MODEL
    uuid.UUID(body["event_id"])
    assert stack.stored("collection_1", body["event_id"])["price"] == body["result"]

    invalid = client.post("/api/predict", json={**rec, "bedrooms": -1, "street": ""})
    assert invalid.status_code == 422
    assert set(invalid.get_json()["fields"]) == {"bedrooms", "street"}
    assert client.post("/api/predict", data="not json").status_code == 400

    correction = {"record": rec, "corrected_price": 655_000, "predicted_price": body["result"]}
    accepted = client.post("/api/corrections", json={**correction, "prediction_event_id": body["event_id"]})
    assert accepted.status_code == 202
    event_id = accepted.get_json()["event_id"]
    stored = stack.stored("collection_2", event_id)
    assert stored["price"] == 655_000.0 and stored["prediction_event_id"] == body["event_id"]

    refused = client.post("/api/corrections", json={"record": {**rec, "floors": "x"}, "corrected_price": 0})
    assert refused.status_code == 422
    assert set(refused.get_json()["fields"]) == {"record.floors", "corrected_price"}


def test_readyz_reports_the_services_it_uses(client: FlaskClient, stack: wfx.DbappStack, mlapp) -> None:
    body = client.get("/readyz?verbose=1").get_json()
    assert body["status"] == "ready"
    assert body["dbapp"] == {"url": stack.url, "reachable": True, "ready": True}
    assert body["mlapp"]["reachable"] is True


def test_a_retried_correction_with_its_idempotency_key_is_stored_once(client: FlaskClient, stack) -> None:
    rec, key = wfx.record(street="8 Retry Road"), {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    answers = [client.post("/api/corrections", json={"record": rec, "corrected_price": 612_000}, headers=key)]
    answers.append(client.post("/api/corrections", json={"record": rec, "corrected_price": 612_000}, headers=key))
    assert [a.status_code for a in answers] == [202, 202]
    event_id = answers[0].get_json()["event_id"]
    assert answers[1].get_json()["event_id"] == event_id
    stack.stored("collection_2", event_id)
    later = client.post("/api/corrections", json={"record": rec, "corrected_price": 612_000}, headers=key)
    marker = client.post("/api/corrections", json={"record": rec, "corrected_price": 613_000})
    stack.stored("collection_2", marker.get_json()["event_id"])  # published after the retries, stored after them
    assert later.get_json()["event_id"] == event_id
    stored = [i for i in stack.items("collection_2") if i["street"] == "8 Retry Road"]
    assert sorted(i["price"] for i in stored) == [612_000.0, 613_000.0]
