"""dbapp as it runs in production: gunicorn with two workers (started by the same launcher `make up` uses),
multiprocess metrics, one SQLite file shared by every worker and surviving a restart."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from local_platform.processes import free_port
from tests.integration import dbapp_fixtures as fx

pytestmark = pytest.mark.integration

SEED_METRICS = (
    "store_requests_total",
    "retrieve_requests_total",
    "store_latency_seconds",
    "retrieve_latency_seconds",
    "documents_inserted_total",
    "db_errors_total",
    "mongo_health_status",
    "mongo_active_connections",
)


def sample(metrics_text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus text format."""
    for line in metrics_text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_dbapp_under_gunicorn(tmp_path: Path, logs_dir: Path) -> None:
    sqlite_path = tmp_path / "data" / "dbapp.sqlite3"
    env = fx.dbapp_env(sqlite_path, tmp_path / "prom")
    log_path = logs_dir / "dbapp-gunicorn.log"
    with fx.dbapp_server(env, log_path) as (_child, url):
        assert requests.get(f"{url}/readyz", timeout=5).json() == {"status": "ready", "backend": "sqlite"}

        def store(i: int) -> tuple[int, dict]:
            table, data = (
                ("collection_1", fx.prediction(result=100_000.0 + i))
                if i % 2
                else ("collection_2", fx.correction(corrected=200_000.0 + i))
            )
            response = requests.post(
                f"{url}/store",
                json={"table": table, "data": data},
                headers={"X-Request-ID": f"gunicorn-test-{i}"},
                timeout=10,
            )
            return response.status_code, response.json()

        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(store, range(40)))
        assert [status for status, _ in responses] == [201] * 40
        stored = {body["event_id"]: body["document"] for _, body in responses}

        predictions = fx.page_all(f"{url}/retrieve/collection_1", limit=7)
        assert len(predictions) == 20
        assert {p["event_id"] for p in predictions} == {e for e, d in stored.items() if "result" in d}
        cursors = [int(p["cursor"]) for p in predictions]
        assert cursors == sorted(cursors, reverse=True)

        corrections = fx.page_all(f"{url}/corrections", limit=6)
        assert [c["event_id"] for c in corrections] == [
            e for e, d in sorted(stored.items(), key=lambda kv: int(kv[1]["cursor"])) if "corrected_price" in d
        ]
        bad = requests.post(f"{url}/store", json={"table": "collection_9", "data": fx.prediction()}, timeout=5)
        assert bad.status_code == 400 and "collection_9" in bad.json()["fields"]["table"]
        del bad  # a live response keeps its keep-alive connection open, which delays gunicorn's shutdown

        metrics = requests.get(f"{url}/metrics", timeout=5).text
        for name in SEED_METRICS:
            assert f"\n{name}" in metrics, f"{name} missing from /metrics"
        # Totals over both workers: only multiprocess mode adds up what each worker counted.
        assert sample(metrics, "store_requests_total") == 41
        assert sample(metrics, "documents_inserted_total") == 40
        assert sample(metrics, "retrieve_requests_total") == 3 + 4  # pages of 7 over 20, pages of 6 over 20
        assert sample(metrics, "store_latency_seconds_count") == 41
        assert sample(metrics, "mongo_health_status") == 1
        assert sample(metrics, "mongo_active_connections") >= 1

    access = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    logged = {e.get("request_id") for e in access if e.get("path") == "/store" and e.get("status") == 201}
    assert {f"gunicorn-test-{i}" for i in range(40)} <= logged
    assert len({e["pid"] for e in access if e.get("path") == "/store"}) == 2, "both workers should serve"

    # The SQLite file is the database: a new server on it serves everything stored before.
    with fx.dbapp_server(fx.dbapp_env(sqlite_path, tmp_path / "prom2"), logs_dir / "dbapp-restart.log") as (_, url):
        assert len(fx.page_all(f"{url}/retrieve/collection_1", limit=500)) == 20
        assert len(fx.page_all(f"{url}/corrections", limit=500)) == 20


def test_the_read_only_port_serves_reads_and_refuses_writes(tmp_path: Path, logs_dir: Path) -> None:
    read_only = free_port()
    env = fx.dbapp_env(tmp_path / "dbapp.sqlite3", tmp_path / "prom", READ_ONLY_PORT=str(read_only))
    with fx.dbapp_server(env, logs_dir / "dbapp-read-only-port.log", workers=1) as (_child, url):
        reader = f"http://127.0.0.1:{read_only}"
        body = {"table": "collection_2", "data": fx.correction(corrected=321_000)}
        refused = requests.post(f"{reader}/store", json=body, headers={"Host": url.removeprefix("http://")}, timeout=5)
        assert refused.status_code == 403 and "only serves reads" in refused.json()["error"]
        assert requests.post(f"{url}/store", json=body, timeout=5).status_code == 201
        listed = requests.get(f"{reader}/retrieve/collection_2", timeout=5).json()
        assert listed["count"] == 1 and requests.get(f"{reader}/metrics", timeout=5).status_code == 200
