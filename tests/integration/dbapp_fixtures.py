"""Helpers for dbapp's integration tests (imported explicitly: `from tests.integration import dbapp_fixtures`).

Plain functions and context managers, no pytest fixtures, so each test module declares the fixtures it uses.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from common.schema import INPUT_FIELDS
from tests.service_fixtures import ServerContext, gunicorn_server


def console_script(name: str) -> str:
    """A console script of this environment (e.g. `dbapp-consumer`), as `uv sync` installed it."""
    path = Path(sys.executable).with_name(name)
    assert path.exists(), f"{name} is not installed in {path.parent}: run `uv sync`"
    return str(path)


def record(**overrides: Any) -> dict[str, Any]:
    """A valid house record (the schema's example values)."""
    return {**{spec.name: spec.example for spec in INPUT_FIELDS}, **overrides}


def prediction(result: float = 450_000.0, **extra: Any) -> dict[str, Any]:
    return {"record": record(), "result": result, "model": {"name": "house-price", "version": "3"}, **extra}


def correction(corrected: float = 500_000.0, predicted: float | None = 450_000.0, **extra: Any) -> dict[str, Any]:
    return {
        "record": record(),
        "predicted_price": predicted,
        "corrected_price": corrected,
        "prediction_event_id": None,
        "model": None,
        **extra,
    }


def wait_until(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not (shown in the skip message)."""
    if not shutil.which("docker"):
        return "the docker CLI is not installed"
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 20 s"
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()
        return f"`docker info` failed: {reason[-1] if reason else 'exit code ' + str(probe.returncode)}"
    return None


@contextlib.contextmanager
def mongo_container(image: str = "mongo:7") -> Iterator[str]:
    """A throw-away `mongod` in Docker (plain docker CLI, no testcontainers dependency); yields its URI."""
    name = f"dbapp-test-mongo-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "-p", "127.0.0.1::27017", image],
        check=True,
        capture_output=True,
        timeout=300,
    )
    try:
        port = (
            subprocess.run(
                ["docker", "port", name, "27017/tcp"], check=True, capture_output=True, text=True, timeout=30
            )
            .stdout.split(":")[-1]
            .strip()
        )
        yield f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=30000"
    finally:
        subprocess.run(["docker", "stop", name], capture_output=True, timeout=60)


def dbapp_env(sqlite_path: Path, multiproc_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a dbapp process on SQLite. MONGO_URI is blanked so a developer's own MONGO_URI does
    not switch the backend under the test."""
    multiproc_dir.mkdir(parents=True, exist_ok=True)
    return {
        "DBAPP_SQLITE_PATH": str(sqlite_path),
        "MONGO_URI": "",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "GCP_PROJECT": "dbapp-test",
        # gunicorn waits up to this long for idle keep-alive connections when stopping
        "GUNICORN_GRACEFUL_TIMEOUT": "3",
        **extra,
    }


def dbapp_server(env: dict[str, str], log_path: Path, workers: int = 2) -> ServerContext:
    """dbapp under real gunicorn, started the way `make up` starts it; yields the child and its base URL."""
    return gunicorn_server("dbapp", env, log_path, workers=workers, timeout=30, every_worker=True)


def page_all(url: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a paginated dbapp route (`data` of `/retrieve`, `items` of `/corrections`), following
    `next_cursor` while `has_more`."""
    items: list[dict[str, Any]] = []
    after = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        response = requests.get(url, params=params, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["data"] if "data" in body else body["items"])
        if not body["has_more"]:
            return items
        after = body["next_cursor"]
    raise AssertionError(f"{url} kept answering has_more=true")
