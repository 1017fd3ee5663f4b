"""The pages webapp renders on its own: the form with every field and its limits, CSRF on every form, input
errors shown next to their fields, escaping, error pages, and the JSON API's input errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from common.schema import INPUT_FIELDS
from tests.integration import webapp_fixtures as wfx
from tests.unit import webapp_support as ws


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return ws.make_app(tmp_path).test_client()


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<input id="f-{name}"[^>]*>', page, flags=re.S)
    assert found, f"no input for {name}"
    return re.sub(r"\s+", " ", found.group(0))


def test_the_form_has_every_field_labelled_with_its_limits_and_an_example(client: FlaskClient) -> None:
    page = client.get("/predict_page").get_data(as_text=True)
    for spec in INPUT_FIELDS:
        assert f'<label for="f-{spec.name}">{spec.label}</label>' in page
        tag = input_tag(page, spec.name)
        assert f'name="{spec.name}"' in tag and "required" in tag
        assert f'placeholder="e.g. {spec.example}"' in tag
        if spec.is_text:
            assert 'type="text"' in tag and 'maxlength="200"' in tag
        else:
            assert 'type="number"' in tag
            assert f'min="{spec.minimum}"' in tag and f'max="{spec.maximum}"' in tag and f'step="{spec.step}"' in tag
    example = client.get("/predict_page?example=1").get_data(as_text=True)
    assert 'value="18810 Densmore Ave N"' in input_tag(example, "street")


def test_every_form_carries_a_csrf_token_and_a_post_without_it_is_refused(client: FlaskClient) -> None:
    for path in ("/predict_page", "/upload"):
        assert 'name="csrf_token"' in client.get(path).get_data(as_text=True)
    for path in ("/predict", "/correct_prediction", "/upload"):
        response = client.post(path, data=ws.record())
        assert response.status_code == 400, path
        assert "This form has expired or did not come from this site" in ws.text_of(response.get_data(as_text=True))
    token = ws.csrf_token(client.get("/predict_page").get_data(as_text=True))
    assert client.post("/predict", data={**ws.record(), "csrf_token": token + "x"}).status_code == 400


def test_bad_answers_are_shown_next_to_their_fields_with_the_values_kept(client: FlaskClient) -> None:
    token = ws.csrf_token(client.get("/predict_page").get_data(as_text=True))
    form = {**ws.record(), "bathrooms": "", "sqft_above": "5000", "city": "<b>Bold</b>", "csrf_token": token}
    response = client.post("/predict", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="e-bathrooms">Is required<', page)
    assert re.search(r'id="e-sqft_above">Cannot exceed sqft_living \(1980\)<', page)
    assert 'aria-invalid="true"' in input_tag(page, "bathrooms")
    assert 'value="5000"' in input_tag(page, "sqft_above")
    assert "<b>Bold</b>" not in page and 'value="&lt;b&gt;Bold&lt;/b&gt;"' in input_tag(page, "city")


def test_a_correction_with_a_forged_or_missing_form_is_refused(client: FlaskClient) -> None:
    token = ws.csrf_token(client.get("/predict_page").get_data(as_text=True))
    for carried in ("", "not-a-signed-token"):
        response = client.post(
            "/correct_prediction",
            data={"csrf_token": token, "correction_token": carried, "corrected_price": "500000"},
        )
        assert response.status_code == 400
        assert "price the house again" in ws.text_of(response.get_data(as_text=True))


def test_pages_share_the_layout_and_send_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    for label in ("Predict a price", "History", "Model", "Upload data"):
        assert f">{label}</a>" in page
    assert "/static/style.css" in page and "http" not in re.sub(r'href="/[^"]*"', "", page.split("<body>")[0])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert " style=" not in page  # the CSP allows no inline styles
    assert client.get("/static/style.css").status_code == 200


def test_unknown_pages_are_html_and_unknown_api_routes_are_json(client: FlaskClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "Page not found" in page.get_data(as_text=True)
    api = client.get("/api/no-such-route")
    assert api.status_code == 404 and "error" in api.get_json()
    assert client.get("/api/predict").status_code == 405


def test_api_input_errors_need_no_csrf_and_name_each_field(client: FlaskClient) -> None:
    response = client.post("/api/predict", json={**ws.record(), "bedrooms": "three", "yr_built": 2500})
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {"bedrooms", "yr_built"}
    assert client.post("/api/predict", data="{not json").status_code == 400
    assert client.post("/api/predict", json=[1, 2]).status_code == 400
    missing = client.post("/api/corrections", json={"corrected_price": "lots"})
    assert missing.status_code == 422
    assert missing.get_json()["fields"] == {
        "record": "is required",
        "corrected_price": "must be a number (got 'lots')",
    }
    odd = client.post(
        "/api/corrections",
        json={"record": ws.record(), "corrected_price": 1, "predicted_price": -1, "prediction_event_id": 7, "model": 3},
    )
    assert odd.status_code == 422
    assert set(odd.get_json()["fields"]) == {"predicted_price", "prediction_event_id", "model"}


def test_healthz_and_metrics_answer_without_other_services(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")  # needs only the bus: mlapp and dbapp are not asked
    assert ready.status_code == 200 and set(ready.get_json()) == {"status", "bus"}
    verbose = client.get("/readyz?verbose=1").get_json()
    assert verbose["mlapp"]["reachable"] is False and verbose["dbapp"]["reachable"] is False
    metrics = client.get("/metrics").get_data(as_text=True)
    for name in ("prediction_requests_total", "correction_requests_total", "prediction_latency_seconds",
                 "last_predicted_price", "error_count_total"):  # fmt: skip
        assert f"\n# TYPE {name.removesuffix('_total')}" in metrics or f"# TYPE {name}" in metrics, name


def test_when_the_bus_is_down_the_price_is_shown_but_a_correction_is_not_claimed_saved(tmp_path: Path) -> None:
    bus = ws.DownBus()
    with wfx.ContractMlapp() as mlapp:
        client = ws.make_app(tmp_path, bus=bus, mlapp_url=mlapp.url).test_client()
        token = ws.csrf_token(client.get("/predict_page").get_data(as_text=True))
        result = client.post("/predict", data={**ws.record(), "csrf_token": token})
    assert result.status_code == 200
    page = result.get_data(as_text=True)
    assert f"${wfx.expected_price(ws.record()):,.0f}" in ws.text_of(page)
    assert "could not be added to the history right now" in ws.text_of(page)
    carried = wfx.hidden(page, "correction_token")
    response = client.post(
        "/correct_prediction", data={"csrf_token": token, "correction_token": carried, "corrected_price": "480000"}
    )
    assert response.status_code == 503
    again = response.get_data(as_text=True)
    assert "Your correction could not be saved right now" in ws.text_of(again)
    assert 'value="480000"' in again and wfx.hidden(again, "correction_token") == carried
    api = client.post("/api/corrections", json={"record": ws.record(), "corrected_price": 480000})
    assert api.status_code == 503 and "could not be recorded" in api.get_json()["error"]
    assert [e.type for e in bus.attempts] == ["prediction.made", "correction.submitted", "correction.submitted"]
