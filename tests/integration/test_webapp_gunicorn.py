"""webapp as it runs in production: gunicorn with two workers (started by the launcher `make up` uses),
multiprocess metrics with the seed's names, CSRF-protected forms that work whichever worker answers, and the
form's outbox: a prediction accepted while the bus is unreachable, by a webapp then SIGKILLed, reaches dbapp
once a webapp runs again on the same file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_platform.processes import free_port
from tests.integration import dbapp_fixtures as dfx
from tests.integration import webapp_fixtures as wfx
from tests.service_fixtures import gunicorn_server

pytestmark = pytest.mark.integration

SEED_METRICS = (
    "prediction_requests_total",
    "correction_requests_total",
    "prediction_latency_seconds",
    "last_predicted_price",
    "error_count_total",
)


def sample(metrics_text: str, name: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.fixture(scope="module")
def stack(pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[wfx.DbappStack]:
    project = f"webapp-g-{uuid.uuid4().hex[:10]}"
    with wfx.dbapp_stack(project, pubsub_emulator, tmp_path_factory.mktemp("webapp-g-dbapp"), logs_dir) as running:
        yield running


def test_webapp_under_gunicorn_serves_forms_and_exposes_the_seed_metrics(
    stack: wfx.DbappStack, pubsub_emulator: str, tmp_path: Path, logs_dir: Path
) -> None:
    # No SECRET_KEY: the two workers must still agree on one key (generated once under PLATFORM_DATA_DIR),
    # or a form rendered by one worker would be refused by the other.
    with wfx.ContractMlapp() as mlapp:
        env = wfx.webapp_env(stack, mlapp.url, tmp_path, pubsub_emulator)
        log_path = logs_dir / "webapp-gunicorn.log"
        with gunicorn_server("webapp", env, log_path, workers=2, timeout=30, every_worker=True) as (_child, url):
            assert (tmp_path / "data" / "webapp" / "secret_key").is_file()

            prices = []
            for i in range(4):
                # A new connection each time, so the requests spread over both workers.
                with requests.Session() as browser:
                    form = browser.get(f"{url}/predict_page", timeout=10).text
                    rec = wfx.record(street=f"{i} Gunicorn Grove", sqft_living=1500 + i * 100, sqft_above=1200)
                    browser.headers["Connection"] = "close"
                    result = browser.post(
                        f"{url}/predict", data={**wfx.form_of(rec), "csrf_token": wfx.csrf_token(form)}, timeout=10
                    )
                    assert result.status_code == 200, wfx.text_of(result.text)
                    prices.append(wfx.expected_price(rec))
                    assert f"${prices[-1]:,.0f}" in wfx.text_of(result.text)
                    if i == 0:
                        done = browser.post(
                            f"{url}/correct_prediction",
                            data={
                                "csrf_token": wfx.csrf_token(result.text),
                                "correction_token": wfx.hidden(result.text, "correction_token"),
                                "corrected_price": "640000",
                            },
                            timeout=10,
                        )
                        assert done.status_code == 200
            assert requests.post(f"{url}/predict", data=wfx.form_of(wfx.record()), timeout=10).status_code == 400

            mlapp.model_loaded = False
            assert requests.post(f"{url}/api/predict", json=wfx.record(), timeout=10).status_code == 503

            metrics = requests.get(f"{url}/metrics", timeout=10).text

    for name in SEED_METRICS:
        assert f"\n{name}" in metrics, f"{name} missing from /metrics"
    # 4 form predictions and 1 API call while no model was loaded; the post without a CSRF token never got in.
    assert sample(metrics, "prediction_requests_total") == 5
    assert sample(metrics, "correction_requests_total") == 1
    assert sample(metrics, "prediction_latency_seconds_count") == 4
    assert sample(metrics, "error_count_total") == 1
    assert sample(metrics, "last_predicted_price") == prices[-1]


def test_a_form_prediction_outlives_a_dead_bus_and_a_killed_webapp(
    stack: wfx.DbappStack, pubsub_emulator: str, tmp_path: Path, logs_dir: Path
) -> None:
    outbox = str(tmp_path / "outbox" / "outbox.sqlite3")
    street = f"{uuid.uuid4().hex[:8]} Outbox Lane"
    with wfx.ContractMlapp() as mlapp:
        unreachable = f"127.0.0.1:{free_port()}"  # nothing listens: every publish times out
        env = wfx.webapp_env(stack, mlapp.url, tmp_path, unreachable, OUTBOX_PATH=outbox, GUNICORN_WORKERS="1")
        with gunicorn_server("webapp", env, logs_dir / "webapp-outbox-1.log", workers=1) as (child, url):
            with requests.Session() as browser:
                form = browser.get(f"{url}/predict_page", timeout=10).text
                rec = wfx.record(street=street)
                result = browser.post(
                    f"{url}/predict", data={**wfx.form_of(rec), "csrf_token": wfx.csrf_token(form)}, timeout=10
                )
            assert result.status_code == 200, wfx.text_of(result.text)
            assert "could not be added to the history" not in wfx.text_of(result.text)
            child.kill_group()  # SIGKILL: no drain, no atexit
        assert not [i for i in stack.items("collection_1") if i["street"] == street]

        env = wfx.webapp_env(stack, mlapp.url, tmp_path, pubsub_emulator, OUTBOX_PATH=outbox, GUNICORN_WORKERS="1")
        with gunicorn_server("webapp", env, logs_dir / "webapp-outbox-2.log", workers=1):
            stored = dfx.wait_until(
                lambda: [i for i in stack.items("collection_1") if i["street"] == street] or None,
                timeout=60,
                what=f"the prediction for {street} in dbapp",
            )
    assert len(stored) == 1 and stored[0]["price"] == pytest.approx(wfx.expected_price(rec))
