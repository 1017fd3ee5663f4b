"""Live quality in dbapp: the aggregate each storage backend computes (SQLite on a real file; MongoDB through
mongomock, an in-memory imitation of the server: the pipeline's semantics, not a real mongod), the cache, the
`/quality` route and the gauges of `/metrics`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mongomock
import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.contracts.quality import LiveQuality, LiveQualityAnswer
from common.metrics import collected_now
from common.schema import INPUT_FIELDS
from common.settings import Settings
from dbapp.app import create_app
from dbapp.quality import LiveQualityCache, LiveQualityCollector, live_quality
from dbapp.storage import DocumentStore, StorageUnavailable
from dbapp.storage.base import ErrorSum
from dbapp.storage.mongo import MongoStore
from dbapp.storage.sqlite import SqliteStore

PREDICTIONS, CORRECTIONS = "collection_1", "collection_2"
LINEAR = {"name": "house-price", "version": 3, "family": "linear_regression"}
BOOSTING = {"name": "house-price", "version": 4, "family": "gradient_boosting"}


def record() -> dict[str, Any]:
    return {spec.name: spec.example for spec in INPUT_FIELDS}


def prediction(result: float, model: dict[str, Any]) -> dict[str, Any]:
    return {"record": record(), "result": result, "model": model}


def correction(
    corrected: float, predicted: float | None = None, model: dict[str, Any] | None = None, of: str | None = None
) -> dict[str, Any]:
    return {
        "record": record(),
        "corrected_price": corrected,
        "predicted_price": predicted,
        "prediction_event_id": of,
        "model": model,
    }


@pytest.fixture(params=["sqlite", "mongomock"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "dbapp.sqlite3", (PREDICTIONS, CORRECTIONS))
        yield sqlite
        sqlite.close()
    else:
        yield MongoStore(mongomock.MongoClient(tz_aware=True), "db", (PREDICTIONS, CORRECTIONS), settle_seconds=0)


def fill(store: DocumentStore) -> None:
    store.put(PREDICTIONS, "p-boost", prediction(400_000, BOOSTING))
    store.put(PREDICTIONS, "p-linear", prediction(300_000, LINEAR))
    store.put(PREDICTIONS, "p-nofamily", prediction(200_000, {"name": "house-price", "version": 2}))
    # Naming their own model and price: linear v3 is 50,000 and 30,000 off.
    store.put(CORRECTIONS, "c1", correction(500_000, 450_000, LINEAR))
    store.put(CORRECTIONS, "c2", correction(270_000, 300_000, LINEAR, of="p-boost"))  # its own facts win
    # Neither model nor price: both from the prediction it names (boosting v4, 400,000), 10,000 off.
    store.put(CORRECTIONS, "c3", correction(410_000, of="p-boost"))
    # A price but no model: the prediction's model *and* price (20,000 off), not the correction's price.
    store.put(CORRECTIONS, "c4", correction(380_000, 999_999, of="p-boost"))
    store.put(CORRECTIONS, "c5", correction(205_000, of="p-nofamily"))  # a reference without a family
    # Not counted: the seed's corrections (nothing known), a prediction that is not stored, a model but no price.
    store.put(CORRECTIONS, "c6", correction(123_000))
    store.put(CORRECTIONS, "c7", correction(123_000, of="p-missing"))
    store.put(CORRECTIONS, "c8", correction(123_000, model=LINEAR))


def test_each_backend_sums_the_errors_of_each_model_version(store: DocumentStore) -> None:
    fill(store)
    sums = sorted(store.error_sums(PREDICTIONS, CORRECTIONS), key=lambda s: s.version)
    assert sums == [
        ErrorSum(None, 2, 5_000.0, 1),
        ErrorSum("linear_regression", 3, 80_000.0, 2),
        ErrorSum("gradient_boosting", 4, 30_000.0, 2),
    ]


def test_no_corrections_no_rows(store: DocumentStore) -> None:
    store.put(PREDICTIONS, "p", prediction(400_000, BOOSTING))
    assert store.error_sums(PREDICTIONS, CORRECTIONS) == []


def test_the_means_are_ordered_and_bounded_like_the_contract() -> None:
    rows = live_quality(
        [
            ErrorSum("linear_regression", 3, 80_000.0, 3),
            ErrorSum(None, 2, 5_000.0, 1),
            ErrorSum("gradient_boosting", 4, 30_000.0, 2),
            ErrorSum("x" * 65, 5, 1.0, 1),  # stored before model references were bounded: left out
            ErrorSum("linear_regression", 2**31, 1.0, 1),
        ]
    )
    assert [(r.family, r.version, r.live_mae, r.live_corrections) for r in rows] == [
        (None, 2, 5_000.0, 1),
        ("gradient_boosting", 4, 15_000.0, 2),
        ("linear_regression", 3, 26_666.67, 3),
    ]


class CountingStore:
    """Answers `error_sums` from a list, counting the calls; `down` makes it fail like an unreachable database."""

    def __init__(self, sums: list[ErrorSum]) -> None:
        self.sums = sums
        self.calls = 0
        self.down = False

    def error_sums(self, predictions: str, corrections: str) -> list[ErrorSum]:
        self.calls += 1
        if self.down:
            raise StorageUnavailable("sqlite aggregate failed: disk I/O error")
        return self.sums


def test_the_cache_asks_the_store_once_per_period() -> None:
    store = CountingStore([ErrorSum("linear_regression", 3, 10.0, 1)])
    now = [100.0]
    cache = LiveQualityCache(store, PREDICTIONS, CORRECTIONS, 10.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert cache.current() == cache.current() and store.calls == 1
    store.sums = [ErrorSum("linear_regression", 3, 30.0, 2)]
    now[0] += 9.9
    assert cache.current()[0].live_mae == 10.0 and store.calls == 1
    now[0] += 0.1
    assert cache.current()[0].live_mae == 15.0 and store.calls == 2


def gauges(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (sample.name, sample.labels["family"], sample.labels["version"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("model_live_")
    }


def test_the_gauges_are_made_at_scrape_time_and_empty_while_the_database_is_down() -> None:
    store = CountingStore([ErrorSum("linear_regression", 3, 30.0, 2), ErrorSum(None, 2, 7.0, 1)])
    cache = LiveQualityCache(store, PREDICTIONS, CORRECTIONS, 0.0)  # type: ignore[arg-type]
    text = collected_now(LiveQualityCollector(cache)).decode()
    assert gauges(text) == {
        ("model_live_mae_dollars", "linear_regression", "3"): 15.0,
        ("model_live_corrections", "linear_regression", "3"): 2.0,
        ("model_live_mae_dollars", "unknown", "2"): 7.0,
        ("model_live_corrections", "unknown", "2"): 1.0,
    }
    assert store.calls == 1  # one query per scrape, whatever the number of gauges
    store.down = True
    down = collected_now(LiveQualityCollector(cache)).decode()
    assert gauges(down) == {} and "# TYPE model_live_mae_dollars gauge" in down


def test_the_quality_route_and_the_metrics_show_what_was_stored(tmp_path: Path) -> None:
    env = {"GCP_PROJECT": "unit", "DBAPP_SQLITE_PATH": str(tmp_path / "dbapp.sqlite3")}
    client = create_app(Settings.from_env("dbapp", env)).test_client()
    assert client.get("/quality").json == {"models": []}
    stored = {**prediction(300_000, LINEAR), "event_id": "p-linear"}
    assert client.post("/store", json={"table": PREDICTIONS, "data": stored}).status_code == 201
    sent = [correction(330_000, of="p-linear"), correction(500_000, 450_000, BOOSTING)]
    for data in sent:
        assert client.post("/store", json={"table": CORRECTIONS, "data": data}).status_code == 201
    # DBAPP_QUALITY_CACHE_SECONDS defaults to 30 s: this process answered {"models": []} a moment ago
    assert client.get("/quality").json == {"models": []}

    env["DBAPP_QUALITY_CACHE_SECONDS"] = "0"
    fresh = create_app(Settings.from_env("dbapp", env)).test_client()
    answer = LiveQualityAnswer.model_validate(fresh.get("/quality").json)
    assert answer.models == [
        LiveQuality(family="gradient_boosting", version=4, live_mae=50_000.0, live_corrections=1),
        LiveQuality(family="linear_regression", version=3, live_mae=30_000.0, live_corrections=1),
    ]
    text = fresh.get("/metrics").get_data(as_text=True)
    assert re.search(r'^model_live_mae_dollars\{family="linear_regression",version="3"\} 30000\.0$', text, re.M)
    assert re.search(r'^model_live_corrections\{family="gradient_boosting",version="4"\} 1\.0$', text, re.M)
    assert "store_requests_total" in text  # the process's other metrics are still there
