"""Session fixtures that start real components (emulators, an MLflow server, PostgreSQL databases).

Each server is started once per test session with the same launcher `make up` uses
(`local_platform.components`), logs to a file under the session's temporary folder, and is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_platform import components
from local_platform.processes import Child, free_port, port_open
from tests.container_fixtures import container_engine, docker_api, image_tag  # noqa: F401 (session fixtures)

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
# The tests read the components' log lines as JSON: a developer's own LOG_FORMAT=text must not change that.
os.environ["LOG_FORMAT"] = "json"


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


def _start(child: Child, ready, timeout: float = 90.0) -> Child:
    child.start()
    try:
        child.wait_ready(ready, timeout=timeout)
    except Exception:
        child.stop()
        raise
    return child


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[str]:
    """One Pub/Sub emulator for the session; sets PUBSUB_EMULATOR_HOST for code under test."""
    port = free_port()
    try:
        child = components.pubsub_emulator(port, tmp_path_factory.mktemp("pubsub"), logs_dir / "pubsub.log")
    except components.MissingPrerequisite as exc:
        pytest.fail(f"Pub/Sub emulator unavailable: {exc}")
    _start(child, components.pubsub_ready(port))
    host = f"127.0.0.1:{port}"
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    yield host
    child.stop()
    if previous is None:
        os.environ.pop("PUBSUB_EMULATOR_HOST", None)
    else:
        os.environ["PUBSUB_EMULATOR_HOST"] = previous


@pytest.fixture
def gcp_project(pubsub_emulator: str) -> str:
    """A fresh project id per test, so topics and subscriptions of different tests never mix."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def gcs_emulator(logs_dir: Path) -> Iterator[str]:
    """The `gcp-storage-emulator` package in memory; sets STORAGE_EMULATOR_HOST."""
    port = free_port()
    child = _start(components.storage_emulator(port, logs_dir / "gcs.log"), lambda: port_open("127.0.0.1", port))
    host = f"http://127.0.0.1:{port}"
    os.environ["STORAGE_EMULATOR_HOST"] = host
    yield host
    child.stop()
    os.environ.pop("STORAGE_EMULATOR_HOST", None)


@pytest.fixture
def gcs_bucket(gcs_emulator: str) -> str:
    """A new, empty bucket in the storage emulator; returns its `gs://` URL."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    name = f"bucket-{uuid.uuid4().hex[:12]}"
    storage.Client(project="local-project", credentials=AnonymousCredentials()).create_bucket(name)
    return f"gs://{name}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not port_open(POSTGRES_HOST, POSTGRES_PORT):
        pytest.fail(
            f"PostgreSQL is not listening on {POSTGRES_HOST}:{POSTGRES_PORT}; `.ci/run` starts it "
            "(pg_ctlcluster ... main start)"
        )
    return f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}"


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg2

    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(f"{postgres_server}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_server}/{name}"
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def start_mlflow(root: Path, logs_dir: Path, backend_store_uri: str | None = None) -> tuple[Child, str]:
    """A real `mlflow server` (through our start-up module) with its data under `root`."""
    port = free_port()
    env = {"PLATFORM_DATA_DIR": str(root)}
    if backend_store_uri:
        env["MLFLOW_BACKEND_STORE_URI"] = backend_store_uri
    child = components.mlflow_server(port, env, logs_dir / f"mlflow-{port}.log")
    _start(child, components.mlflow_ready(port), timeout=300)  # ~30 s idle; minutes on a loaded 2-core machine
    return child, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[str]:
    """A session-wide MLflow server on SQLite; tests keep apart by using their own model/experiment names."""
    child, url = start_mlflow(tmp_path_factory.mktemp("mlflow"), logs_dir)
    yield url
    child.stop()


@pytest.fixture(scope="session")
def promtool() -> str:
    """Prometheus' checker (Debian package `prometheus`); the monitoring tests skip, saying why, without it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian package `prometheus`: scripts/install_system_packages.sh)")
    return path
