"""How each local component is started. `make up` and the test fixtures both use these, so the tests run
the platform the way a user does."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from local_platform.processes import Child, http_ok, port_open

PUBSUB_EMULATOR_BIN = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")


class MissingPrerequisite(RuntimeError):
    """Something the local platform needs is not installed; the message says how to get it."""


def python_tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise MissingPrerequisite(f"`{name}` is not installed in this environment: run `uv sync`")
    return found


def pubsub_emulator_command(port: int, data_dir: Path) -> list[str]:
    """The emulator's own launcher when present (starts faster), else `gcloud beta emulators pubsub start`."""
    if not shutil.which("java"):
        raise MissingPrerequisite(
            "Java is not installed; the Pub/Sub emulator needs it (Debian: apt-get install openjdk-17-jre-headless)"
        )
    if PUBSUB_EMULATOR_BIN.exists():
        return [str(PUBSUB_EMULATOR_BIN), "--host=127.0.0.1", f"--port={port}"]
    if shutil.which("gcloud"):
        data_dir.mkdir(parents=True, exist_ok=True)
        return [
            "gcloud", "beta", "emulators", "pubsub", "start",
            f"--host-port=127.0.0.1:{port}", f"--data-dir={data_dir}",
        ]  # fmt: skip
    raise MissingPrerequisite(
        "the Pub/Sub emulator is not installed: install the Google Cloud CLI and run "
        "`gcloud components install pubsub-emulator beta` (Debian: google-cloud-cli-pubsub-emulator)"
    )


def pubsub_emulator(port: int, data_dir: Path, log_path: Path | None = None) -> Child:
    return Child("pubsub", pubsub_emulator_command(port, data_dir), log_path=log_path)


def pubsub_ready(port: int) -> Callable[[], bool]:
    return lambda: port_open("127.0.0.1", port)


def storage_emulator(port: int, log_path: Path | None = None) -> Child:
    cmd = [
        python_tool("gcp-storage-emulator"),
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--in-memory",
    ]
    return Child("gcs", cmd, log_path=log_path)


def mlflow_server(port: int, env: dict[str, str], log_path: Path | None = None) -> Child:
    env = {"MLFLOW_PORT": str(port), "MLFLOW_HOST": "127.0.0.1", **env}
    return Child("mlflow", [sys.executable, "-m", "mlflow_server"], env=env, log_path=log_path)


def mlflow_ready(port: int) -> Callable[[], bool]:
    return http_ok(f"http://127.0.0.1:{port}/health")


def gunicorn_service(
    name: str,
    app: str,
    port: int,
    env: dict[str, str],
    log_path: Path | None = None,
    config: str = "common.gunicorn_conf",
) -> Child:
    """A Flask service under gunicorn with the shared settings (`common.gunicorn_conf`, or a module extending it)."""
    env = {"PORT": str(port), "HOST": "127.0.0.1", "SERVICE_NAME": name, **env}
    cmd = [python_tool("gunicorn"), "-c", f"python:{config}", app]
    return Child(name, cmd, env=env, log_path=log_path)


def service_ready(port: int) -> Callable[[], bool]:
    return http_ok(f"http://127.0.0.1:{port}/healthz")
