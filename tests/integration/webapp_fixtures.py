"""Helpers for webapp's tests (imported explicitly: `from tests.integration import webapp_fixtures as wfx`).

- `ContractMlapp`: a small real HTTP server that follows mlapp's contract (its OpenAPI document: `/predict` 200/422/503,
  `/model-info`, `/readyz`), validating with the shared schema. It prices a house with a fixed formula, so tests
  know the exact price to expect; it can be switched to "no model loaded" (503) or stopped (connection refused).
- `DbappStack`: the real dbapp under gunicorn plus the real `dbapp-consumer` process on the Pub/Sub emulator,
  started the way `make up` starts them.
- Page helpers: the CSRF token and hidden fields of a rendered form.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from common import bus
from common.events import TOPIC_CORRECTIONS, TOPIC_PREDICTIONS, Event
from common.schema import INPUT_FIELDS, RecordInvalid, validate_record
from local_platform.processes import Child, free_port
from tests.integration import dbapp_fixtures as dfx

MODEL = {"name": "house-price", "version": 7, "family": "gradient_boosting"}
MODEL_INFO = {
    **MODEL,
    "dataset_version": 3,
    "holdout_mae": 81234.5,
    "holdout_rmse": 120456.25,
    "holdout_r2": 0.7312,
    "promotion_reason": "holdout MAE 81,234 beats the champion's 90,100",
    "compared_with_version": 5,
    "defeated": [{"version": 5, "family": "linear_regression", "holdout_mae": 90100.0}],
    "run_id": "abc123",
}


def record(**overrides: Any) -> dict[str, Any]:
    """A valid house record (the schema's example values)."""
    return {**{spec.name: spec.example for spec in INPUT_FIELDS}, **overrides}


def form_of(rec: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in rec.items()}


def expected_price(rec: dict[str, Any]) -> float:
    """The contract server's price for a (validated) record: deterministic and plausible."""
    return round(
        50_000 + 180 * rec["sqft_living"] + 12_000 * rec["bedrooms"] + 9_000 * rec["bathrooms"] + 0.5 * rec["sqft_lot"],
        2,
    )


class ContractMlapp:
    """mlapp's HTTP contract on a real socket, in a background thread of the test process."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model_loaded = True
        self.requests: list[dict[str, Any]] = []
        self._server = None
        self._thread: threading.Thread | None = None
        self.app = self._build()

    def _build(self) -> Flask:
        app = Flask("contract-mlapp")

        @app.post("/predict")
        def predict():
            body = request.get_json(force=True, silent=True)
            self.requests.append({"body": body, "request_id": request.headers.get("X-Request-ID")})
            try:
                rec = validate_record(body)
            except RecordInvalid as exc:
                return jsonify(error=f"invalid house record: {exc}", fields=exc.fields), 422
            if not self.model_loaded:
                return jsonify(error="no model is loaded yet: models:/house-price@champion does not exist"), 503
            return jsonify(result=expected_price(rec), model=MODEL)

        @app.get("/model-info")
        def model_info():
            if not self.model_loaded:
                return jsonify(error="no model is loaded yet"), 503
            return jsonify(MODEL_INFO)

        @app.get("/readyz")
        def readyz():
            return (jsonify(status="ready"), 200) if self.model_loaded else (jsonify(status="unavailable"), 503)

        return app

    def start(self) -> ContractMlapp:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ContractMlapp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class DbappStack:
    project: str
    url: str
    log_dir: Path

    def items(self, collection: str, limit: int = 500) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/retrieve/{collection}", params={"limit": limit}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]

    def stored(self, collection: str, event_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """The document with `event_id` (a flat `/retrieve` item), once the consumer has stored it."""
        return dfx.wait_until(
            lambda: next((i for i in self.items(collection) if i["event_id"] == event_id), None),
            timeout=timeout,
            what=f"event {event_id} in dbapp's {collection}",
        )


@contextlib.contextmanager
def dbapp_stack(project: str, emulator: str, tmp: Path, logs_dir: Path) -> Iterator[DbappStack]:
    """The real dbapp (gunicorn, one worker) and `dbapp-consumer` on SQLite, for one Pub/Sub project."""
    env = dfx.dbapp_env(tmp / "dbapp.sqlite3", tmp / "prom-dbapp", GCP_PROJECT=project, PUBSUB_EMULATOR_HOST=emulator)
    consumer = Child(
        "dbapp-consumer",
        [dfx.console_script("dbapp-consumer")],
        env=env,
        log_path=logs_dir / f"webapp-dbapp-consumer-{project}.log",
    )
    consumer.start()
    try:
        consumer.wait_ready(lambda: "consumer running" in consumer.tail(), timeout=60)
        with dfx.dbapp_server(env, logs_dir / f"webapp-dbapp-{project}.log", workers=1) as (_child, url):
            yield DbappStack(project=project, url=url, log_dir=logs_dir)
    finally:
        consumer.stop()


def webapp_env(stack: DbappStack, mlapp_url: str, tmp: Path, emulator: str, **extra: str) -> dict[str, str]:
    """Environment for webapp under gunicorn (two workers) against `stack` and the mlapp at `mlapp_url`."""
    prom = tmp / "prom-webapp"
    prom.mkdir(parents=True, exist_ok=True)
    return {
        "GCP_PROJECT": stack.project,
        "PUBSUB_EMULATOR_HOST": emulator,
        "DBAPP_URL": stack.url,
        "MLAPP_URL": mlapp_url,
        "PLATFORM_DATA_DIR": str(tmp / "data"),
        "LANDING_BUCKET": (tmp / "landing").as_uri(),
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "GUNICORN_WORKERS": "2",
        "GUNICORN_GRACEFUL_TIMEOUT": "3",
        "SECRET_KEY": "",
        "WEBAPP_REQUIRE_SECRET": "",
        **extra,
    }


class TopicTap:
    """A test subscription on a topic: every event published after it was created can be pulled here."""

    def __init__(self, project: str, topic: str):
        from google.cloud import pubsub_v1

        self.project = project
        self.name = f"webapp-test-{topic}-{uuid.uuid4().hex[:8]}"
        bus.ensure_topics(project, [topic])
        self.path = bus.ensure_subscription(project, self.name, topic)
        self._subscriber = pubsub_v1.SubscriberClient()
        self.seen: list[Event] = []

    def find(self, predicate, timeout: float = 20.0) -> Event:
        def pull() -> Event | None:
            response = self._subscriber.pull(request={"subscription": self.path, "max_messages": 50}, timeout=5)
            if response.received_messages:
                self._subscriber.acknowledge(
                    request={"subscription": self.path, "ack_ids": [m.ack_id for m in response.received_messages]}
                )
                self.seen.extend(Event.from_json(m.message.data) for m in response.received_messages)
            return next((e for e in self.seen if predicate(e)), None)

        return dfx.wait_until(pull, timeout=timeout, what=f"a matching event on {self.name}")

    def close(self) -> None:
        bus.delete_subscription(self.project, self.name)
        self._subscriber.close()


def taps(project: str) -> tuple[TopicTap, TopicTap]:
    return TopicTap(project, TOPIC_PREDICTIONS), TopicTap(project, TOPIC_CORRECTIONS)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no form with a csrf_token field"
    return html.unescape(found.group(1))


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, f"the page has no field {name!r}"
    return html.unescape(found.group(1))


def text_of(page: str) -> str:
    """The visible text of a page, whitespace collapsed (for asserting what a person reads)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def link(page: str, rel: str) -> str:
    """The href of the page's link with `rel` (e.g. the history's "Older" link, rel="next")."""
    found = re.search(rf'rel="{re.escape(rel)}" href="([^"]+)"', page)
    assert found, f"the page has no link with rel={rel!r}"
    return html.unescape(found.group(1))
