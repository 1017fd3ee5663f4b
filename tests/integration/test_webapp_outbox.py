"""No recorded prediction is lost to the outbox: a form prediction accepted while the bus is unreachable, by a
webapp that is then SIGKILLed before it could publish, reaches dbapp once a webapp runs again on the same file."""

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


@pytest.fixture(scope="module")
def stack(pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[wfx.DbappStack]:
    project = f"webapp-o-{uuid.uuid4().hex[:10]}"
    with wfx.dbapp_stack(project, pubsub_emulator, tmp_path_factory.mktemp("webapp-o-dbapp"), logs_dir) as running:
        yield running


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
