"""A fixed suite of hostile requests against mlapp, dbapp and webapp under gunicorn: every one is a 4xx with a
JSON `error`, and every service is still healthy and still prices and stores houses afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests import mlapp_fixtures as fx
from tests.integration.contract_services import Services

pytestmark = pytest.mark.integration

DEEP = b"[" * 50_000 + b"]" * 50_000  # 100 KB: over the 64 KiB cap of single-record routes, under the batch cap
NESTED = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not JSON", b"{bedrooms: 3"),
    ("NaN", json.dumps({**fx.record(), "bedrooms": float("nan")}).encode()),
    ("Infinity", b'{"sqft_living": Infinity}'),
    ("400-digit integer", json.dumps({**fx.record(), "sqft_lot": 10**400}).encode()),
    ("5000-digit integer", b'{"sqft_lot": ' + b"7" * 5000 + b"}"),
    ("deep array", DEEP),
    ("deep object", NESTED),
    ("arrays of records", json.dumps([[fx.record()]]).encode()),
    ("a string", b'"house"'),
    ("wrong types", json.dumps({**fx.record(), "bedrooms": [3], "city": {"x": 1}}).encode()),
    ("garbage bytes", b"\xff\xfe\x00\x01\x02"),
    ("oversized", b'{"street": "' + b"x" * 7_000_000 + b'"}'),
]
WRITES: list[tuple[str, str, Any]] = [
    ("mlapp", "/predict", None),
    ("mlapp", "/predict/batch", "records"),
    ("mlapp", "/v2/models/{model}/infer", "inputs"),
    ("dbapp", "/store", "data"),
    ("webapp", "/api/predict", None),
    ("webapp", "/api/corrections", "record"),
]


def refused(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return 400 <= response.status_code < 500 and isinstance(body, dict) and bool(body.get("error"))


def wrapped(key: str | None, body: bytes) -> bytes:
    """`body` as the value of `key` in a JSON object, so that it reaches the route's own rules; kept raw when it
    is not JSON itself."""
    if key is None:
        return body
    return b'{"' + key.encode() + b'": ' + body + b"}" if body.strip() else body


@pytest.mark.parametrize(("service", "path", "key"), WRITES)
def test_every_hostile_body_is_refused_with_a_4xx(services: Services, service: str, path: str, key: Any) -> None:
    url = f"{getattr(services, service)}{path.format(model=services.model_name)}"
    answers = {
        name: requests.post(url, data=wrapped(key, body), headers={"Content-Type": "application/json"}, timeout=30)
        for name, body in BODIES
    }
    wrong = {name: (r.status_code, r.text[:200]) for name, r in answers.items() if not refused(r)}
    assert not wrong, f"{service} {path}: {wrong}"
    assert answers["oversized"].status_code == 413


def test_hostile_query_parameters_are_refused(services: Services) -> None:
    for path in ("/retrieve/collection_1", "/corrections"):
        for params in ({"limit": "-1"}, {"limit": "9" * 400}, {"after": "not-a-cursor"}, {"after": "9" * 400}):
            response = requests.get(f"{services.dbapp}{path}", params=params, timeout=10)
            assert refused(response), (path, params, response.status_code, response.text[:200])
    assert requests.get(f"{services.dbapp}/retrieve/no_such_collection", timeout=10).status_code == 404


def test_every_service_is_healthy_and_working_after_the_hostile_suite(services: Services) -> None:
    for url in (services.mlapp, services.dbapp, services.webapp):
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{url}/readyz", timeout=10).status_code == 200
    priced = requests.post(f"{services.webapp}/api/predict", json=fx.record(), timeout=30)
    assert priced.status_code == 200 and priced.json()["result"] > 0
