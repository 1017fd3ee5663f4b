"""Hot swap on a `model.promoted` event: two gunicorn workers, each with its own Pub/Sub subscription (real
emulator), models in a real MLflow server. Alias polling is set to 10 minutes, so only the event can explain
the swap. Requests keep flowing during the swap and none fails; SIGTERM removes every worker's subscription."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from google.cloud import pubsub_v1

from common import bus
from common.events import Event
from tests import mlapp_fixtures as fx

pytestmark = pytest.mark.integration


def mlapp_subscriptions(project: str) -> list[str]:
    client = pubsub_v1.SubscriberClient()
    try:
        found = client.list_subscriptions(request={"project": f"projects/{project}"})
        return sorted(s.name.rsplit("/", 1)[-1] for s in found if s.name.rsplit("/", 1)[-1].startswith("mlapp-"))
    finally:
        client.close()


@dataclass(frozen=True)
class Answer:
    started: float
    status: int
    version: int | None
    error: str | None


class Traffic:
    """Threads that send /predict requests back to back (a new connection each, so both workers get some)."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, seed: int) -> None:
        records = fx.sample_records(50, offset=seed * 50)
        i = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = requests.post(f"{self.url}/predict", json=records[i % len(records)], timeout=10)
                body = response.json()
                version = body.get("model", {}).get("version")
                answer = Answer(started, response.status_code, version, body.get("error"))
            except (requests.RequestException, ValueError) as exc:
                answer = Answer(started, 0, None, repr(exc))
            self.answers.append(answer)
            i += 1

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def test_a_promotion_event_hot_swaps_every_worker_without_failed_requests(
    mlflow_server: str, pubsub_emulator: str, gcp_project: str, tmp_path: Path, logs_dir: Path
) -> None:
    model_name = f"mlapp-hotswap-{uuid.uuid4().hex[:8]}"
    v1 = fx.register(mlflow_server, model_name, fx.fitted("linear_regression"), "linear_regression")
    v2 = fx.register(mlflow_server, model_name, fx.fitted("gradient_boosting"), "gradient_boosting", dataset_version=2)
    fx.promote(mlflow_server, model_name, v1)
    env = fx.mlapp_env(
        mlflow_server,
        model_name,
        tmp_path / "prom",
        MODEL_POLL_SECONDS="600",
        PUBSUB_EMULATOR_HOST=pubsub_emulator,
        GCP_PROJECT=gcp_project,
    )
    log_path = logs_dir / "mlapp-hotswap.log"
    with fx.mlapp_server(env, log_path, workers=2) as (_child, url):
        fx.wait_serving(url, v1, workers=2)
        subscriptions = fx.wait_until(
            lambda: (found := mlapp_subscriptions(gcp_project)) and len(found) == 2 and found,
            timeout=30,
            what="one promotions subscription per worker",
        )

        with Traffic(url) as traffic:
            time.sleep(1.0)
            published_at = time.monotonic()
            fx.promote(mlflow_server, model_name, v2)
            event = Event(
                "model.promoted",
                {
                    "name": model_name,
                    "version": v2,
                    "family": "gradient_boosting",
                    "dataset_version": 2,
                    "holdout_mae": 123456.5,
                    "previous_version": v1,
                },
            )
            bus.Publisher(gcp_project).publish(event)
            fx.wait_serving(url, v2, workers=2, timeout=30)
            swapped_at = time.monotonic()
            time.sleep(1.0)

        answers = traffic.answers
        failed = [a for a in answers if a.status != 200]
        assert not failed, f"{len(failed)} of {len(answers)} requests failed during the swap, e.g. {failed[:3]}"
        before = [a.version for a in answers if a.started < published_at]
        after = [a.version for a in answers if a.started > swapped_at]
        assert before and set(before) == {v1}
        assert len(after) >= 10 and set(after) == {v2}, "every request after the swap is answered by the new model"
        assert swapped_at - published_at < 20, "both workers should switch within seconds of the event"

    assert mlapp_subscriptions(gcp_project) == [], "SIGTERM should delete every worker's subscription"

    lines = fx.log_lines(log_path)
    received = [e for e in lines if e.get("message") == "promotion event received"]
    assert [e["event_id"] for e in received] == [event.event_id] * 2, "each worker's subscription got the event"
    swaps = [e for e in lines if e.get("message", "").startswith("serving model") and e.get("trigger") == "event"]
    assert sorted(e["model_version"] for e in swaps) == [v2, v2], "each worker swapped on the event, not by polling"
    deleted = [e["subscription"] for e in lines if e.get("message") == "deleted the promotions subscription"]
    assert sorted(deleted) == subscriptions
