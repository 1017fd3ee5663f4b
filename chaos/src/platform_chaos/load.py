"""Steady load through webapp's JSON API, as a careful client sends it: every write carries an Idempotency-Key,
and a write that was not accepted (a 503, a refused connection, a timeout) is sent again with the same key until
it is, or until the client gives up. What happened is kept in the ledger."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from common.schema import validate_record
from platform_chaos.ledger import Ledger, Request

log = logging.getLogger("chaos")
RETRY_PAUSE_SECONDS = 0.5


def house(street: str, number: int) -> dict[str, Any]:
    """A plausible house; the street names the request, so its stored documents can be counted."""
    return validate_record(
        {
            "bedrooms": 2 + number % 4, "bathrooms": 1.5, "sqft_living": 1200 + 10 * (number % 90),
            "sqft_lot": 5000, "floors": 1.0, "waterfront": 0, "view": 0, "condition": 3,
            "sqft_above": 1200, "sqft_basement": 0, "yr_built": 1990, "yr_renovated": 0,
            "street": street, "city": "Seattle", "statezip": "WA 98103", "country": "USA",
        }
    )  # fmt: skip


@dataclass(frozen=True)
class Pace:
    rate: float  # requests a second a client starts at most
    give_up_seconds: float  # a client retries one request (same key) this long at most


class LoadClient(threading.Thread):
    def __init__(self, index: int, webapp_url: str, ledger: Ledger, stop: threading.Event, pace: Pace):
        super().__init__(name=f"chaos-client-{index}", daemon=True)
        self.index, self.url, self.ledger, self.stop_event = index, webapp_url, ledger, stop
        self.give_up_seconds, self.interval = pace.give_up_seconds, 1.0 / pace.rate
        self.session = requests.Session()

    def run(self) -> None:
        next_start = time.monotonic()
        for number in itertools.count():
            if self.stop_event.wait(max(0.0, next_start - time.monotonic())):
                return
            next_start = max(next_start + self.interval, time.monotonic())
            kind = "correction" if number % 2 else "prediction"
            request = self.ledger.new(f"{self.index}-{number}-{uuid.uuid4().hex[:8]}", kind)
            self._send(request, number)

    def _send(self, request: Request, number: int) -> None:
        record = house(request.street, number)
        if request.kind == "prediction":
            path, body = "/api/predict", record
        else:
            path, body = "/api/corrections", {"record": record, "corrected_price": 400_000.0 + number}
        deadline = request.sent_at + self.give_up_seconds
        while time.monotonic() < deadline:
            request.attempts += 1
            try:
                answer = self.session.post(
                    f"{self.url}{path}", json=body, headers={"Idempotency-Key": request.key}, timeout=20
                )
            except requests.RequestException as exc:
                request.refusals.append(f"no answer: {type(exc).__name__}")
                time.sleep(RETRY_PAUSE_SECONDS)
                continue
            payload = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else {}
            if answer.status_code in (200, 202) and payload.get("event_id"):
                request.status, request.event_id = answer.status_code, payload["event_id"]
                return
            request.refusals.append(f"{answer.status_code}: {str(payload.get('error', answer.text))[:120]}")
            if answer.status_code not in (200, 503):  # anything else will not change with a retry
                request.status = answer.status_code
                return
            time.sleep(RETRY_PAUSE_SECONDS)
        log.warning("gave up on a request", extra={"key": request.key, "refusals": request.refusals[-3:]})


def start_load(clients: int, webapp_url: str, ledger: Ledger, pace: Pace) -> tuple[threading.Event, list[LoadClient]]:
    stop = threading.Event()
    threads = [LoadClient(i, webapp_url, ledger, stop, pace) for i in range(clients)]
    for thread in threads:
        thread.start()
    return stop, threads
