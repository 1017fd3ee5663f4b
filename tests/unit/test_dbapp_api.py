"""dbapp's HTTP contract through Flask's test client on a real SQLite file: validation messages, idempotent
`/store`, pagination cursors, JSON errors and probes. Answers are checked against `common.contracts.store`.
`/store`'s input rules are in test_dbapp_store_validation.py, the seed system's body and answers in
test_dbapp_seed_contract.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from common.contracts.store import CorrectionsAnswer, ReadinessAnswer, RetrieveAnswer
from common.schema import INPUT_FIELDS
from common.settings import Settings
from dbapp.app import create_app


def record(**overrides: Any) -> dict[str, Any]:
    return {**{spec.name: spec.example for spec in INPUT_FIELDS}, **overrides}


def prediction(**overrides: Any) -> dict[str, Any]:
    return {"record": record(), "result": 450_000.0, "model": {"name": "house-price", "version": "1"}, **overrides}


def correction(**overrides: Any) -> dict[str, Any]:
    return {"record": record(), "predicted_price": 450_000.0, "corrected_price": 500_000.0, **overrides}


def settings_for(sqlite_path: Path) -> Settings:
    return Settings.from_env("dbapp", {"GCP_PROJECT": "unit", "DBAPP_SQLITE_PATH": str(sqlite_path)})


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return create_app(settings_for(tmp_path / "dbapp.sqlite3")).test_client()


def store(client: FlaskClient, table: str, data: dict[str, Any]):
    return client.post("/store", json={"table": table, "data": data})


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


# --- idempotency ------------------------------------------------------------------------------------------


def test_the_same_event_id_is_stored_once(client: FlaskClient) -> None:
    inserted_before = metric("documents_inserted_total")
    data = prediction(event_id="evt-1")
    first = store(client, "collection_1", data)
    second = store(client, "collection_1", data)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json["status"] == "already_stored"
    assert second.json["success"] is False and second.json["message"] == "Record already exists in collection_1"
    assert second.json["document"] == first.json["document"]
    items = client.get("/retrieve/collection_1").json["data"]
    assert [item["event_id"] for item in items] == ["evt-1"]
    assert metric("documents_inserted_total") - inserted_before == 1


def test_an_event_id_reused_with_different_data_is_a_conflict(client: FlaskClient) -> None:
    assert store(client, "collection_1", prediction(event_id="evt-2")).status_code == 201
    response = store(client, "collection_1", prediction(event_id="evt-2", result=1.0))
    assert response.status_code == 409
    assert "event_id" in response.json["fields"]
    assert response.json["document"]["result"] == 450_000.0  # the first write is kept


def test_event_ids_are_unique_per_collection(client: FlaskClient) -> None:
    assert store(client, "collection_1", prediction(event_id="shared")).status_code == 201
    assert store(client, "collection_2", correction(event_id="shared")).status_code == 201


# --- pagination -------------------------------------------------------------------------------------------


def fill(client: FlaskClient, table: str, count: int) -> list[str]:
    make = prediction if table == "collection_1" else correction
    ids = [f"{table}-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for event_id in ids:
        assert store(client, table, make(event_id=event_id)).status_code == 201
    return ids


def test_retrieve_pages_newest_first_without_gaps_or_overlaps(client: FlaskClient) -> None:
    ids = fill(client, "collection_1", 7)
    pages, after = [], None
    while True:
        query = "?limit=3" + (f"&after={after}" if after else "")
        body = client.get(f"/retrieve/collection_1{query}").json
        RetrieveAnswer.model_validate(body)
        pages.append([item["event_id"] for item in body["data"]])
        assert body["count"] == len(body["data"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        assert body["next_cursor"] == body["data"][-1]["cursor"]
        after = body["next_cursor"]
    newest_first = list(reversed(ids))
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]


def test_retrieve_limit_defaults_to_50(client: FlaskClient) -> None:
    fill(client, "collection_1", 51)
    body = client.get("/retrieve/collection_1").json
    assert len(body["data"]) == 50 and body["count"] == 50
    assert body["has_more"] is True


def test_corrections_feed_is_oldest_first_and_resumes_after_a_cursor(client: FlaskClient) -> None:
    fill(client, "collection_1", 2)  # predictions never appear in the corrections feed
    ids = fill(client, "collection_2", 5)
    first = client.get("/corrections?limit=2").json
    CorrectionsAnswer.model_validate(first)
    assert [item["event_id"] for item in first["items"]] == ids[:2]
    assert first["has_more"] is True
    assert set(first["items"][0]) == {
        "cursor", "event_id", "record", "corrected_price", "predicted_price", "created_at",
    }  # fmt: skip
    rest = client.get(f"/corrections?after={first['next_cursor']}&limit=10").json
    assert [item["event_id"] for item in rest["items"]] == ids[2:]
    assert rest["has_more"] is False
    # Stable: the same cursor gives the same items, and the end cursor waits for new corrections.
    again = client.get(f"/corrections?after={first['next_cursor']}&limit=10").json
    assert again["items"] == rest["items"]
    empty = client.get(f"/corrections?after={rest['next_cursor']}").json
    assert empty == {"items": [], "next_cursor": rest["next_cursor"], "has_more": False}
    new = fill(client, "collection_2", 1)
    assert [i["event_id"] for i in client.get(f"/corrections?after={rest['next_cursor']}").json["items"]] == new


def test_corrections_on_an_empty_store(client: FlaskClient) -> None:
    assert client.get("/corrections").json == {"items": [], "next_cursor": None, "has_more": False}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("after=abc", "after"),
        ("after=-3", "after"),
        ("after=99999999999999999999999", "after"),
    ],
)
@pytest.mark.parametrize("route", ["/retrieve/collection_1", "/corrections"])
def test_bad_paging_parameters_are_named(client: FlaskClient, route: str, query: str, parameter: str) -> None:
    response = client.get(f"{route}?{query}")
    assert response.status_code == 422
    assert list(response.json["fields"]) == [parameter]


def test_limit_500_is_allowed(client: FlaskClient) -> None:
    assert client.get("/retrieve/collection_2?limit=500").status_code == 200


# --- errors and probes ------------------------------------------------------------------------------------


def test_unknown_collection_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/retrieve/collection_9")
    assert response.status_code == 404
    assert "collection_9" in response.json["error"]


@pytest.mark.parametrize(("method", "path", "status"), [("get", "/nowhere", 404), ("get", "/store", 405)])
def test_http_errors_are_json(client: FlaskClient, method: str, path: str, status: int) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and response.json["error"]


def test_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32


def test_probes_on_a_working_database(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready", "backend": "sqlite"}
    health = client.get("/health")
    assert health.status_code == 200 and health.json == {"status": "ready", "backend": "sqlite"}
    ReadinessAnswer.model_validate(health.json)


def test_readyz_is_503_with_a_reason_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    client = create_app(settings_for(tmp_path)).test_client()  # a directory, not a database file
    errors_before = metric("db_errors_total")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "unable to open database file" in response.json["error"]
    assert metric("db_errors_total") - errors_before == 1
    ReadinessAnswer.model_validate(response.json)
    assert client.get("/health").status_code == 503  # the seed's probe is the same check
    assert metric("mongo_health_status") == 0
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    stored = store(client, "collection_1", prediction())
    assert stored.status_code == 503
    assert "database unavailable" in stored.json["error"]


def test_metrics_expose_the_seed_names(client: FlaskClient) -> None:
    store(client, "collection_1", prediction())
    client.get("/retrieve/collection_1")
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        "store_requests_total", "retrieve_requests_total", "store_latency_seconds_bucket",
        "retrieve_latency_seconds_bucket", "documents_inserted_total", "db_errors_total",
        "mongo_health_status", "mongo_active_connections",
    ):  # fmt: skip
        assert f"\n{name}" in text, name


def test_every_log_line_of_a_request_carries_its_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    client = create_app(settings_for(tmp_path)).test_client()  # a directory: the store logs an error
    client.get("/readyz", headers={"X-Request-ID": "trace-me"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    tagged = [line for line in lines if line.get("request_id") == "trace-me"]
    assert {line["logger"] for line in tagged} >= {"dbapp.storage.base", "dbapp.access"}
