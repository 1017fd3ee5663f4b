"""webapp's `GET /api/models` and `/model` page over a stand-in HTTP session that answers as mlapp
(`/model-info`, `/model-versions`) and dbapp (`/quality`) do, or fails like them. The real services are in
tests/integration/test_live_quality.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from common.contracts.quality import ModelsAnswer
from tests.unit import webapp_support as ws

REASON = "MAE 70,000 < champion v3 MAE 95,000"
VERSIONS = {
    "name": "house-price",
    "alias": "champion",
    "champion_version": 4,
    "versions": [
        {"family": "gradient_boosting", "version": 4, "dataset_version": 2, "holdout_mae": 70000.0,
         "status": "champion", "decision": {"outcome": "promoted", "reason": REASON, "compared_with_version": 3},
         "registered_at": "2025-06-15T15:06:44+00:00"},
        {"family": "linear_regression", "version": 3, "dataset_version": 2, "holdout_mae": 95000.0,
         "status": "retired", "decision": {"outcome": "promoted", "reason": "no champion yet",
                                           "compared_with_version": None},
         "registered_at": "2025-06-15T15:06:43+00:00"},
        {"family": "linear_regression", "version": 5, "dataset_version": 3, "holdout_mae": None,
         "status": "challenger", "decision": None, "registered_at": None},
    ],
}  # fmt: skip
QUALITY = {
    "models": [
        {"family": "gradient_boosting", "version": 4, "live_mae": 81234.5, "live_corrections": 2},
        {"family": "linear_regression", "version": 3, "live_mae": 99000.0, "live_corrections": 1},
    ]
}
INFO = {"name": "house-price", "version": 4, "family": "gradient_boosting", "dataset_version": 2, "holdout_mae": 7e4}


class FakeServices(requests.Session):
    """Answers by path: `(status, body)`, or an exception to raise (a service that cannot be reached)."""

    def __init__(self, answers: dict[str, tuple[int, Any] | Exception]) -> None:
        super().__init__()
        self.answers = answers

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        answer = self.answers[urlsplit(str(url)).path]
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code, response._content = answer[0], json.dumps(answer[1]).encode()
        response.headers["Content-Type"] = "application/json"
        return response


def client(tmp_path: Path, **answers: tuple[int, Any] | Exception) -> Any:
    routes = {"/model-info": (200, INFO), "/model-versions": (200, VERSIONS), "/quality": (200, QUALITY)}
    routes.update({"/" + name.replace("_", "-"): answer for name, answer in answers.items()})
    return ws.make_app(tmp_path, session=FakeServices(routes)).test_client()


def test_api_models_joins_the_registry_with_live_quality(tmp_path: Path) -> None:
    response = client(tmp_path).get("/api/models")
    assert response.status_code == 200
    answer = ModelsAnswer.model_validate(response.json).root
    assert [(v.version, v.status, v.live_mae, v.live_corrections) for v in answer] == [
        (4, "champion", 81234.5, 2),
        (3, "retired", 99000.0, 1),
        (5, "challenger", None, 0),
    ]
    assert response.json[0]["decision"] == {"outcome": "promoted", "reason": REASON, "compared_with_version": 3}
    assert set(response.json[0]) >= {"family", "version", "dataset_version", "holdout_mae", "live_mae", "status"}


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        ({"model_versions": (503, {"error": "the model registry at http://mlflow:5000 cannot be read"})},
         "the model registry is not available right now: /model-versions answered 503 (the model registry at "
         "http://mlflow:5000 cannot be read)"),
        ({"model_versions": requests.ConnectionError("refused")}, "the model registry is not available right now"),
        ({"quality": requests.ConnectionError("refused")}, "the live quality (dbapp) is not available right now"),
        ({"quality": (200, {"models": [{"version": 0}]})}, "/quality answered outside its contract"),
    ],
)  # fmt: skip
def test_api_models_is_a_clear_503_when_a_source_fails(tmp_path: Path, failure: dict[str, Any], said: str) -> None:
    response = client(tmp_path, **failure).get("/api/models")
    assert response.status_code == 503
    assert said in response.json["error"] and set(response.json) == {"error"}


def test_the_model_page_shows_every_version_side_by_side_and_a_chart(tmp_path: Path) -> None:
    response = client(tmp_path).get("/model")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = ws.text_of(page)
    assert "gradient_boosting v4" in text  # the champion card stays
    tables = re.findall(r'<table class="versions">.*?</table>', page, re.S)
    assert len(tables) == 2  # one per family, the champion's first
    assert "v4" in tables[0] and "v3" in tables[1] and "v5" in tables[1]
    row = ws.text_of(re.search(r'<tr class="is-champion">.*?</tr>', tables[0], re.S).group(0))
    assert row == f"v4 v2 $70,000 $81,234 2 corrections champion promoted {REASON}"
    assert "no corrections" in ws.text_of(tables[1]) and "not decided yet" in ws.text_of(tables[1])
    svg = re.search(r'<svg class="mae-chart".*?</svg>', page, re.S).group(0)
    assert 'role="img"' in svg and '<title id="mae-chart-title">' in svg and '<desc id="mae-chart-desc">' in svg
    assert svg.count('class="line-live"') == 0  # one live point per family: dots, no line
    assert svg.count('class="dot-live"') == 2 and svg.count('class="dot-holdout"') == 2
    assert "style=" not in page  # the page's CSP refuses inline styles


def test_with_dbapp_down_the_page_still_shows_the_registry_and_says_live_mae_is_unavailable(tmp_path: Path) -> None:
    response = client(tmp_path, quality=requests.ConnectionError("refused")).get("/model")
    assert response.status_code == 200
    text = ws.text_of(response.get_data(as_text=True))
    assert "Live errors are not available right now" in text
    assert "$70,000 unavailable" in text and "$81,234" not in text
    assert 'class="mae-chart"' in response.get_data(as_text=True)  # the holdout MAE is still drawn


def test_with_the_registry_unreadable_the_champion_is_still_shown(tmp_path: Path) -> None:
    response = client(tmp_path, model_versions=(503, {"error": "down"})).get("/model")
    assert response.status_code == 200
    text = ws.text_of(response.get_data(as_text=True))
    assert "gradient_boosting v4" in text and "The list of model versions is not available right now" in text
    assert 'class="mae-chart"' not in response.get_data(as_text=True)


def test_without_a_champion_the_versions_are_still_listed(tmp_path: Path) -> None:
    response = client(tmp_path, model_info=(503, {"error": "no model loaded yet"})).get("/model")
    assert response.status_code == 503
    text = ws.text_of(response.get_data(as_text=True))
    assert "No model is serving yet" in text and "linear_regression" in text
