"""Hostile requests on every public write and query route of mlapp, dbapp and webapp (Flask's test client, real
apps): huge numbers, NaN/Infinity, deep nesting, wrong types, non-objects, garbage bytes and oversized bodies.
Every one gets a 4xx JSON answer naming the problem, never a 5xx; the same suite runs against the services
under gunicorn in tests/integration/test_hostile_requests.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.events import Event
from common.schema import TEXT_FIELDS
from common.settings import Settings
from dbapp.app import create_app as create_dbapp
from mlapp.app import create_app as create_mlapp
from mlapp.config import MlappConfig
from mlapp.model_holder import ModelHolder, ServingModel
from tests import mlapp_fixtures as fx
from tests.unit import webapp_support as ws

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(10**400),
    st.just(-(10**400)),
    st.just(2**70),  # beyond 64 bits: orjson reads it as a float, the ranges refuse it either way
    st.just(-(2**70)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
JSON = st.recursive(
    LEAVES, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
)
RAW = [
    b"",
    b"{",
    b"NaN",
    b"Infinity",
    b'{"bedrooms": NaN}',
    b'{"result": -Infinity}',
    b"[" * 20_000 + b"]" * 20_000,
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b'{"x": ' + b"9" * 5000 + b"}",
    b"\xff\xfe\x00\x00garbage",
]


def hostile_record() -> st.SearchStrategy[Any]:
    """A house record with one field replaced by a hostile value (or a whole non-record)."""
    bad_value = JSON.filter(
        lambda v: isinstance(v, bool | list | dict) or v is None or v in (10**400, -(10**400), 2**70, -(2**70))
    )
    # A number is a valid text (a ZIP code sent as a number), so 2**70 is hostile only in a numeric field; 10**400
    # is longer than any text may be.
    one_bad = st.tuples(st.sampled_from(sorted(fx.record())), bad_value).filter(
        lambda kv: not (kv[0] in TEXT_FIELDS and kv[1] in (2**70, -(2**70)))
    )
    return st.one_of(one_bad.map(lambda kv: {**fx.record(), kv[0]: kv[1]}), JSON)


def bodies(wrap: Any) -> st.SearchStrategy[bytes]:
    """Raw bytes: fixed nasty documents, random bytes, and `wrap(hostile value)` as JSON."""
    encoded = hostile_record().map(wrap).map(lambda doc: json.dumps(doc).encode())
    return st.one_of(st.sampled_from(RAW), st.binary(max_size=100), encoded, encoded)


class AcceptingBus:
    def publish(self, event: Event, timeout: float = 30.0) -> str:
        return event.event_id


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FlaskClient]]:
    tmp = tmp_path_factory.mktemp("hostile")
    holder = ModelHolder("http://127.0.0.1:9", "house-price")
    holder.install(ServingModel.from_pipeline(fx.fitted("linear_regression"), {"name": "house-price", "version": 1}))
    config = MlappConfig.from_env({"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    settings_ = Settings.from_env("dbapp", {"GCP_PROJECT": "unit", "DBAPP_SQLITE_PATH": str(tmp / "db.sqlite3")})
    yield {
        "mlapp": create_mlapp(config=config, holder=holder, background=False).test_client(),
        "dbapp": create_dbapp(settings_).test_client(),
        "webapp": ws.make_app(tmp, bus=AcceptingBus()).test_client(),
    }


ROUTES = [
    ("mlapp", "/predict", lambda v: v),
    ("mlapp", "/predict/batch", lambda v: {"records": [fx.record(), v]}),
    (
        "mlapp",
        "/v2/models/house-price/infer",
        lambda v: {"inputs": [{"name": "bedrooms", "shape": [1], "datatype": "FP64", "data": [v]}]},
    ),
    ("dbapp", "/store", lambda v: {"table": "collection_1", "data": {"record": v, "result": 1.0}}),
    ("dbapp", "/store", lambda v: {"table": "collection_2", "data": v}),
    ("dbapp", "/store", lambda v: {"table": v, "data": fx.record()}),
    ("webapp", "/api/predict", lambda v: v),
    ("webapp", "/api/corrections", lambda v: {"record": v, "corrected_price": 500000}),
    ("webapp", "/api/corrections", lambda v: {"record": fx.record(), "corrected_price": v, "model": v}),
]


def check_refused(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and body.get("error"), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize(("service", "path", "wrap"), ROUTES, ids=[f"{s}{p}-{i}" for i, (s, p, _) in enumerate(ROUTES)])
def test_hostile_bodies_get_a_4xx_naming_the_problem(
    apps: dict[str, FlaskClient], service: str, path: str, wrap: Any
) -> None:
    client = apps[service]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies(wrap))
    def hostile(body: bytes) -> None:
        check_refused(client.post(path, data=body, content_type="application/json"))

    hostile()


@pytest.mark.parametrize(("service", "path", "limit"), [
    ("mlapp", "/predict", 64 * 1024), ("mlapp", "/predict/batch", 6 * 1024 * 1024),
    ("dbapp", "/store", 64 * 1024), ("webapp", "/api/predict", 64 * 1024), ("webapp", "/api/corrections", 64 * 1024),
])  # fmt: skip
def test_bodies_over_the_routes_cap_are_refused_before_parsing(
    apps: dict[str, FlaskClient], service: str, path: str, limit: int
) -> None:
    response = apps[service].post(path, data=b" " * (limit + 1), content_type="application/json")
    assert response.status_code == 413
    assert f"at most {limit:,} bytes" in response.get_json()["error"]


@given(st.text(max_size=40), st.text(max_size=40), st.sampled_from(["collection_1", "collection_2", "x", "../etc"]))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_query_parameters_get_a_4xx(
    apps: dict[str, FlaskClient], limit: str, after: str, collection: str
) -> None:
    for path in (f"/retrieve/{collection}", "/corrections"):
        response = apps["dbapp"].get(path, query_string={"limit": limit, "after": after})
        assert response.status_code < 500
        if response.status_code != 200:
            check_refused(response)


def test_a_free_form_model_object_is_refused(apps: dict[str, FlaskClient]) -> None:
    model = {f"key{i}": i for i in range(2000)}
    webapp = apps["webapp"].post(
        "/api/corrections", json={"record": fx.record(), "corrected_price": 5e5, "model": model}
    )
    assert webapp.status_code == 422 and webapp.get_json()["fields"]["model.key0"] == "is not a known field"
    correction = {"record": fx.record(), "corrected_price": 5e5, "model": {"name": "m", "version": 1, **model}}
    dbapp = apps["dbapp"].post("/store", json={"table": "collection_2", "data": correction})
    assert dbapp.status_code == 422 and "model.key0" in dbapp.get_json()["fields"]


def test_every_service_answers_the_same_bad_field_with_the_same_422(apps: dict[str, FlaskClient]) -> None:
    """One error type (`InputInvalid`) and one answer for it: the same broken field gets the same status, the same
    `{"error", "fields"}` shape and the same message from each service (dbapp names it inside its document)."""
    bad = {**fx.record(), "bedrooms": -1}
    answers = {
        "mlapp": apps["mlapp"].post("/predict", json=bad),
        "webapp": apps["webapp"].post("/api/predict", json=bad),
        "dbapp": apps["dbapp"].post(
            "/store", json={"table": "collection_1", "data": {"record": bad, "result": 1.0, "model": {"version": 1}}}
        ),
    }
    messages = {}
    for service, response in answers.items():
        body = response.get_json()
        assert response.status_code == 422 and set(body) == {"error", "fields"}, (service, body)
        field = "record.bedrooms" if service == "dbapp" else "bedrooms"
        messages[service] = body["fields"][field]
        assert f"{field}: {messages[service]}" in body["error"], (service, body)
    assert len(set(messages.values())) == 1, messages
