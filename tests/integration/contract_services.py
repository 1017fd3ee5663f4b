"""mlapp, dbapp (with its consumer) and webapp running together under real gunicorn, as `make up` runs them: the
target of the tests that hold the services to their published contracts (schemathesis, hostile requests).

mlapp serves a real model registered and promoted in a real MLflow server; events go through the Pub/Sub
emulator; dbapp stores on SQLite.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from common import bus
from common.events import ALL_TOPICS
from tests import mlapp_fixtures as mfx
from tests.integration import webapp_fixtures as wfx
from tests.service_fixtures import gunicorn_server


@dataclass(frozen=True)
class Services:
    mlapp: str
    dbapp: str
    webapp: str
    model_name: str  # what mlapp serves (its Open Inference Protocol routes are named after it)


@contextlib.contextmanager
def _webapp(stack: wfx.DbappStack, mlapp_url: str, emulator: str, tmp: Path, logs_dir: Path) -> Iterator[str]:
    env = wfx.webapp_env(stack, mlapp_url, tmp, emulator, GUNICORN_WORKERS="1", SECRET_KEY="contract-secret-0123456789")
    with gunicorn_server("webapp", env, logs_dir / "contract-webapp.log") as (_child, url):
        yield url


@contextlib.contextmanager
def running_services(mlflow_server: str, emulator: str, tmp: Path, logs_dir: Path) -> Iterator[Services]:
    model_name = f"contract-{uuid.uuid4().hex[:8]}"
    version = mfx.register(mlflow_server, model_name, mfx.fitted("gradient_boosting"), "gradient_boosting")
    mfx.promote(mlflow_server, model_name, version)
    project = f"contract-{uuid.uuid4().hex[:8]}"
    bus.ensure_topics(project, list(ALL_TOPICS))
    mlapp_env = mfx.mlapp_env(mlflow_server, model_name, tmp / "prom-mlapp")
    with (
        mfx.mlapp_server(mlapp_env, logs_dir / "contract-mlapp.log", workers=1) as (_mlapp, mlapp_url),
        wfx.dbapp_stack(project, emulator, tmp / "dbapp", logs_dir) as stack,
        _webapp(stack, mlapp_url, emulator, tmp, logs_dir) as webapp_url,
    ):
        mfx.wait_until(lambda: requests.get(f"{mlapp_url}/readyz", timeout=5).status_code == 200, 60, "mlapp model")
        yield Services(mlapp=mlapp_url, dbapp=stack.url, webapp=webapp_url, model_name=model_name)
