"""Abuse limits on the browser forms: a token bucket per client address (429 with Retry-After), the client taken
from X-Forwarded-For only as far as TRUSTED_PROXY_HOPS says, and a bound on uploads validated at once."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from common.settings import ConfigError, Settings
from tests.unit import webapp_support as ws
from webapp.config import WebappConfig
from webapp.limits import Busy, RateLimiter, UploadSlots, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_burst_then_the_average_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.wait_seconds("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.wait_seconds("a") == pytest.approx(1.0)
    assert limiter.wait_seconds("b") == 0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.wait_seconds("a") == pytest.approx(0.5)  # refused requests are not counted
    clock.now += 0.5
    assert limiter.wait_seconds("a") == 0
    clock.now += 3600
    assert [limiter.wait_seconds("a") for _ in range(4)][-1] > 0  # refilled only up to the burst


def test_buckets_stay_bounded_under_many_addresses() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, clock=Clock(), max_clients=100)
    for i in range(1000):
        limiter.wait_seconds(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) == 100
    assert limiter.wait_seconds("10.0.3.231") > 0  # a recent client is still remembered
    assert retry_after(0.2) == "1" and retry_after(1.5) == "2"


def test_the_form_posts_are_limited_per_client_with_retry_after(tmp_path: Path) -> None:
    client = ws.make_app(tmp_path, form_rate_per_minute=4).test_client()  # bursts of 2
    token = ws.csrf_token(client.get("/predict_page").get_data(as_text=True))
    answers = [client.post("/predict", data={"csrf_token": token}).status_code for _ in range(2)]
    assert answers == [422, 422]  # counted, then judged on their content
    limited = client.post("/predict", data={"csrf_token": token})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "Too many forms" in ws.text_of(limited.get_data(as_text=True))
    other = client.post("/predict", data={"csrf_token": token}, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 422
    assert client.get("/predict_page").status_code == 200  # reading pages is not limited
    assert client.post("/api/predict", json={}).status_code == 422  # the API is not (it has tokens)


def test_forwarded_addresses_count_only_behind_trusted_proxies(tmp_path: Path) -> None:
    for hops, expected in ((0, [422, 429]), (1, [422, 422])):
        client = ws.make_app(tmp_path, form_rate_per_minute=1, trusted_proxy_hops=hops).test_client()
        token = ws.csrf_token(client.get("/predict_page").get_data(as_text=True))
        statuses = [
            client.post("/predict", data={"csrf_token": token}, headers={"X-Forwarded-For": ip}).status_code
            for ip in ("198.51.100.1", "198.51.100.2")
        ]
        assert statuses == expected, hops


def test_upload_slots_refuse_beyond_the_limit(tmp_path: Path) -> None:
    slots = UploadSlots(1)
    with slots.slot(), pytest.raises(Busy), slots.slot():
        pass
    with slots.slot():
        pass  # released after use, even after a refusal

    app = ws.make_app(tmp_path, max_concurrent_uploads=1)
    entered, release = threading.Event(), threading.Event()
    app_slots = app.extensions["webapp"].upload_slots
    holder = threading.Thread(target=lambda: _hold(app_slots, entered, release))
    holder.start()
    entered.wait(5)
    try:
        client = app.test_client()
        token = ws.csrf_token(client.get("/upload").get_data(as_text=True))
        busy = client.post(
            "/upload",
            data={"csrf_token": token, "file": (_csv(), "houses.csv")},
            content_type="multipart/form-data",
        )
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert "Other uploads are being checked" in ws.text_of(busy.get_data(as_text=True))
    finally:
        release.set()
        holder.join(5)


def _hold(slots: UploadSlots, entered: threading.Event, release: threading.Event) -> None:
    with slots.slot():
        entered.set()
        release.wait(5)


def _csv() -> io.BytesIO:
    return io.BytesIO(b"date,price\n")


@pytest.mark.parametrize(
    ("name", "value"),
    [("FORM_RATE_LIMIT_PER_MINUTE", "-1"), ("MAX_CONCURRENT_UPLOADS", "0"), ("TRUSTED_PROXY_HOPS", "x")],
)
def test_bad_limit_settings_name_their_variable(tmp_path: Path, name: str, value: str) -> None:
    settings = Settings.from_env("webapp", {"GCP_PROJECT": "unit", "PLATFORM_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match=name):
        WebappConfig.from_env({"SECRET_KEY": ws.SECRET, name: value}, settings=settings)
