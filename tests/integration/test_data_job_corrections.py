"""Corrections paged from an HTTP server that follows dbapp's `GET /corrections?after=&limit=` contract.

The server is a tiny real HTTP server in a thread (dbapp itself is tested against this contract elsewhere).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from common.blobstore import FileBlobStore
from common.dataset_versions import committed_versions
from data_versioning import quarantine
from tests.integration.data_job_fixtures import SAMPLE, all_rows, row_counter, run_job, sample_accepted, snapshot
from tests.integration.kube_api_fake import JsonHandler


class CorrectionsServer:
    """Serves `items` in order behind opaque cursors; from request number `fail_from_page` on it answers 500."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self.fail_from_page: int | None = None
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append(query)
                if url.path != "/corrections":
                    return self._answer(404, {"error": "not found"})
                if server.fail_from_page is not None and len(server.requests) >= server.fail_from_page:
                    return self._answer(500, {"error": "database unavailable"})
                start = 0
                if "after" in query:
                    start = next(i + 1 for i, item in enumerate(server.items) if item["cursor"] == query["after"])
                limit = int(query.get("limit", 100))
                page = server.items[start : start + limit]
                has_more = start + limit < len(server.items)
                return self._answer(200, {"items": page, "next_cursor": page[-1]["cursor"] if page else None,
                                        "has_more": has_more})  # fmt: skip

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, record: dict[str, Any], corrected_price: Any, predicted_price: float | None = None) -> None:
        """Every other correction carries its estimate: by default a believable one, 10% off."""
        n = len(self.items)
        if predicted_price is None and n % 2 == 0 and isinstance(corrected_price, int | float) and corrected_price:
            predicted_price = round(corrected_price * 0.9, 2)
        self.items.append({
            "cursor": f"2026-01-01T00:00:00Z|{n:06d}",
            "event_id": f"00000000-0000-4000-8000-{n:012d}",
            "record": record,
            "corrected_price": corrected_price,
            "predicted_price": predicted_price,
            "created_at": "2026-01-01T00:00:00Z",
        })  # fmt: skip

    def afters(self) -> list[str | None]:
        return [r.get("after") for r in self.requests]


@pytest.fixture
def server() -> Iterator[CorrectionsServer]:
    srv = CorrectionsServer()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def buckets(tmp_path: Path) -> tuple[FileBlobStore, FileBlobStore]:
    return FileBlobStore(tmp_path / "landing"), FileBlobStore(tmp_path / "datasets")


def records(n: int, offset: int = 0) -> list[dict[str, Any]]:
    frame = sample_accepted().iloc[offset : offset + n].drop(columns=["price"])
    return json.loads(frame.to_json(orient="records"))


def expected_rows(recs: list[dict[str, Any]], prices: list[float]) -> pd.DataFrame:
    frame = sample_accepted().head(0)
    return pd.concat([frame, pd.DataFrame([{**r, "price": p} for r, p in zip(recs, prices, strict=True)])])


def test_corrections_are_paged_become_rows_and_are_read_once(server: CorrectionsServer, buckets) -> None:
    landing, datasets = buckets
    good = records(1100)
    prices = [200_000.0 + i for i in range(len(good))]
    for record, price in zip(good[:700], prices[:700], strict=True):
        server.add(record, price)
    server.add({**good[0], "bedrooms": "many"}, 300_000.0)
    server.add(good[1], 0)
    server.add(good[2], 2_500_000.0, predicted_price=250_000.0)  # valid, but 10x its estimate
    for record, price in zip(good[700:], prices[700:], strict=True):
        server.add(record, price)
    env = {"DBAPP_URL": server.url, "BATCH_SIZE": "1"}

    first = run_job(landing.url, datasets.url, in_process=True, **env)

    assert first.returncode == 0, first.messages()
    assert server.afters() == [None, server.items[499]["cursor"], server.items[999]["cursor"]]
    assert {r["limit"] for r in server.requests} == {"500"}
    assert (first.summary["corrections_accepted"], first.summary["corrections_rejected"]) == (1100, 2)
    assert first.summary["corrections_implausible"] == 1
    [manifest] = committed_versions(datasets)
    assert manifest.corrections_cursor == server.items[-1]["cursor"]
    rows = all_rows(datasets)
    assert row_counter(rows) == row_counter(expected_rows(good, prices))  # price = corrected_price
    [quarantined] = [b.name for b in datasets.list("quarantine/corrections/")]
    text = datasets.read(quarantined).decode()
    assert "bedrooms: must be a number" in text and "price: must be greater than 0" in text
    assert "implausible: corrected price 2,500,000 is 10x the predicted 250,000" in text
    assert server.items[700]["event_id"] in text and server.items[702]["event_id"] in text
    before = snapshot(datasets)

    second = run_job(landing.url, datasets.url, in_process=True, **env)

    assert second.returncode == 0
    assert server.afters()[-1] == server.items[-1]["cursor"]  # resumes after the recorded cursor
    assert snapshot(datasets) == before  # nothing new: nothing written

    more = records(4, offset=1100)
    for i, record in enumerate(more[:3]):
        server.add(record, 150_000.0 + i)
    server.add(more[3], 50_000.0)  # v1 trained on 200,000..201,099: below half its lowest price
    third = run_job(landing.url, datasets.url, in_process=True, **env)

    assert (third.summary["corrections_accepted"], third.summary["corrections_implausible"]) == (3, 1)
    assert row_counter(all_rows(datasets)) == row_counter(
        expected_rows([*good, *more[:3]], [*prices, 150_000.0, 150_001.0, 150_002.0])
    )
    quarantined = datasets.read(quarantine.corrections_name(server.items[-5]["cursor"])).decode()
    assert "corrected price 50,000 is outside" in quarantined and "CORRECTION_RANGE_FACTOR=2" in quarantined


def test_unreachable_dbapp_warns_and_versions_landing_data_without_moving_the_cursor(
    server: CorrectionsServer, buckets
) -> None:
    landing, datasets = buckets
    landing.write("data.csv", SAMPLE.read_bytes())
    for record in records(600):
        server.add(record, 111_111.0)
    server.fail_from_page = 2  # the first page works, the second fails: nothing of this read may be used

    required = run_job(landing.url, datasets.url, in_process=True, DBAPP_URL=server.url, REQUIRE_CORRECTIONS="true")

    assert required.returncode == 4
    assert any("corrections are required" in m for m in required.messages("ERROR"))
    assert list(datasets.list()) == []

    tolerated = run_job(landing.url, datasets.url, in_process=True, DBAPP_URL=server.url, BATCH_SIZE="1")

    assert tolerated.returncode == 0
    assert any("dbapp corrections unavailable" in m for m in tolerated.messages("WARNING"))
    assert tolerated.summary["corrections"] == "unavailable"
    [manifest] = committed_versions(datasets)
    assert manifest.corrections_cursor is None
    assert row_counter(all_rows(datasets)) == row_counter(sample_accepted())

    server.fail_from_page = None
    server.requests.clear()
    healed = run_job(landing.url, datasets.url, in_process=True, DBAPP_URL=server.url, BATCH_SIZE="1")

    assert healed.summary["corrections_accepted"] == 600
    assert server.afters() == [None, server.items[499]["cursor"]]
    assert committed_versions(datasets)[-1].corrections_cursor == server.items[-1]["cursor"]
