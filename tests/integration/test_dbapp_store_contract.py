"""The dbapp contract on every storage backend: SQLite, and the MongoDB code path against a real `mongod`
(`MONGO_URI`, id mongodb-real), a `mongod` in Docker (id mongodb-docker, skipped with the reason when no Docker
engine answers) and mongomock (id mongomock, always: the in-memory stand-in for pymongo)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import mongomock
import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from common.settings import Settings
from dbapp.app import create_app
from dbapp.storage import DocumentStore
from dbapp.storage.mongo import MongoStore, connect
from dbapp.storage.sqlite import SqliteStore
from tests.integration import dbapp_fixtures as fx

pytestmark = pytest.mark.integration

COLLECTIONS = ("collection_1", "collection_2")


@pytest.fixture(scope="module")
def docker_mongo_uri() -> Iterator[str]:
    reason = fx.docker_unavailable_reason()
    if reason:
        pytest.skip(f"MongoDB in Docker not tested: no Docker engine here ({reason})")
    with fx.mongo_container() as uri:
        yield uri


@pytest.fixture(params=["sqlite", "mongodb-real", "mongodb-docker", "mongomock"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "dbapp.sqlite3", COLLECTIONS)
        yield store
        store.close()
        return
    if request.param == "mongodb-real":
        uri = os.environ.get("MONGO_URI")
        if not uri:
            pytest.skip("MongoDB (real) not tested: MONGO_URI is not set")
        client = connect(uri)
    elif request.param == "mongodb-docker":
        client = connect(request.getfixturevalue("docker_mongo_uri"))
    else:
        client = mongomock.MongoClient(tz_aware=True)
    database = f"dbapp_test_{uuid.uuid4().hex[:10]}"
    store = MongoStore(client, database, COLLECTIONS, settle_seconds=0)
    yield store
    client.drop_database(database)
    store.close()


@pytest.fixture
def client(backend: DocumentStore) -> FlaskClient:
    settings = Settings.from_env("dbapp", {"GCP_PROJECT": "contract", "MONGO_URI": ""})
    return create_app(settings, store=backend).test_client()


def post(client: FlaskClient, table: str, data: dict) -> dict:
    response = client.post("/store", json={"table": table, "data": data})
    assert response.status_code in (200, 201), response.json
    return response.json


def test_stored_documents_come_back_from_both_collections(client: FlaskClient) -> None:
    prediction = post(client, "collection_1", fx.prediction(result=321_000.5))
    correction = post(client, "collection_2", fx.correction(corrected=333_000, prediction_event_id="p-1"))
    document = prediction["document"]
    [item] = client.get("/retrieve/collection_1").json["data"]
    assert {key: item[key] for key in ("event_id", "cursor", "created_at")} == {
        key: document[key] for key in ("event_id", "cursor", "created_at")
    }
    assert item["price"] == 321_000.5 and {key: item[key] for key in fx.record()} == fx.record()
    assert item["model"] == {"name": "house-price", "version": 3, "family": None}
    [item] = client.get("/retrieve/collection_2").json["data"]
    assert item["price"] == 333_000 and item["prediction_event_id"] == "p-1" and item["predicted_price"] == 450_000
    assert item["event_id"] == correction["event_id"]


def test_retrieve_paginates_newest_first(client: FlaskClient) -> None:
    ids = [post(client, "collection_1", fx.prediction(result=1000.0 + i))["event_id"] for i in range(12)]
    seen, after = [], None
    for _ in range(10):
        query = {"limit": 5, **({"after": after} if after else {})}
        body = client.get("/retrieve/collection_1", query_string=query).json
        seen.append([item["event_id"] for item in body["data"]])
        after = body["next_cursor"]
        if not body["has_more"]:
            break
    assert seen == [ids[::-1][0:5], ids[::-1][5:10], ids[::-1][10:12]]
    assert after is None


def test_corrections_cursor_is_stable(client: FlaskClient) -> None:
    ids = [post(client, "collection_2", fx.correction(corrected=2000.0 + i))["event_id"] for i in range(4)]
    first = client.get("/corrections", query_string={"limit": 3}).json
    assert [item["event_id"] for item in first["items"]] == ids[:3] and first["has_more"]
    later = [post(client, "collection_2", fx.correction(corrected=3000.0))["event_id"]]
    rest = client.get("/corrections", query_string={"after": first["next_cursor"]}).json
    assert [item["event_id"] for item in rest["items"]] == ids[3:] + later
    assert client.get("/corrections", query_string={"after": first["next_cursor"]}).json == rest
    end = client.get("/corrections", query_string={"after": rest["next_cursor"]}).json
    assert end == {"items": [], "next_cursor": rest["next_cursor"], "has_more": False}


def test_the_same_event_id_is_one_document_even_when_written_concurrently(
    client: FlaskClient, backend: DocumentStore
) -> None:
    data = fx.prediction(event_id=str(uuid.uuid4()))
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def write() -> None:
        own = client.application.test_client()
        barrier.wait()
        statuses.append(own.post("/store", json={"table": "collection_1", "data": data}).status_code)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [201]
    assert backend.count("collection_1") == 1


def test_a_seed_correction_of_one_house_is_one_document_even_when_written_concurrently(
    client: FlaskClient, backend: DocumentStore
) -> None:
    """The seed's rule (a house is corrected once) rests on the store's insert-if-absent, on every backend."""
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def write(i: int) -> None:
        own = client.application.test_client()
        barrier.wait()
        data = {**fx.record(), "price": 500_000.0 + i}
        statuses.append(own.post("/store", json={"table": "collection_2", "data": data}).status_code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [201]
    assert backend.count("collection_2") == 1
    [item] = client.get("/corrections").json["items"]
    assert item["record"] == fx.record() and 500_000.0 <= item["corrected_price"] <= 500_005.0


def test_sequences_are_unique_and_increasing_with_concurrent_writers(backend: DocumentStore) -> None:
    if isinstance(getattr(backend, "client", None), mongomock.MongoClient):
        # seen here: about 1 run in 12 loses 2 of 60 documents inside mongomock itself
        pytest.skip("mongomock is not thread-safe: concurrent writers run on SQLite and a real MongoDB only")

    def write(worker: int) -> None:
        for n in range(15):
            backend.put("collection_2", f"{worker}-{n}", {"worker": worker, "n": n})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    docs = backend.oldest_after("collection_2", None, 500)
    assert len(docs) == 60
    assert [d.seq for d in docs] == sorted({d.seq for d in docs})
    for worker in range(4):  # each writer's documents appear in the order it wrote them
        assert [d.data["n"] for d in docs if d.data["worker"] == worker] == list(range(15))


def test_readyz_reports_the_backend(client: FlaskClient, backend: DocumentStore) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "backend": backend.backend}


def test_unreachable_mongodb_makes_readyz_and_store_answer_503() -> None:
    """Real pymongo against a port nothing listens on: the service stays up and says why it is not ready."""
    from local_platform.processes import free_port

    uri = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    settings = Settings.from_env("dbapp", {"GCP_PROJECT": "contract", "MONGO_URI": uri})
    client = create_app(settings).test_client()
    errors_before = REGISTRY.get_sample_value("db_errors_total") or 0.0
    started = time.monotonic()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["backend"] == "mongodb"
    assert "database unreachable" in ready.json["error"]
    assert time.monotonic() - started < 5
    stored = client.post("/store", json={"table": "collection_1", "data": fx.prediction()})
    assert stored.status_code == 503 and "database unavailable" in stored.json["error"]
    assert (REGISTRY.get_sample_value("db_errors_total") or 0.0) - errors_before == 2
    assert REGISTRY.get_sample_value("mongo_health_status") == 0
    assert client.get("/healthz").status_code == 200
