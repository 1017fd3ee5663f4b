"""Start and stop `platform up` (what `make up` runs) as a real process group, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_platform.processes import free_port

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "The platform is running"
PORT_NAMES = ("PUBSUB_PORT", "MLFLOW_PORT", "DBAPP_PORT", "MLAPP_PORT", "WEBAPP_PORT", "DISPATCHER_PORT")


@dataclass
class Platform:
    env: dict[str, str]
    logs: Path
    up_args: tuple[str, ...] = ()  # ("--containers",): the platform from its images (make up-containers)

    def url(self, port_name: str) -> str:
        return f"http://127.0.0.1:{self.env[port_name]}"

    @property
    def data_dir(self) -> Path:
        return Path(self.env["PLATFORM_DATA_DIR"])

    def up(self, *args: str, log_name: str = "platform-up.log") -> subprocess.Popen:
        return self.start("up", *self.up_args, *args, log_name=log_name)

    def start(self, *args: str, log_name: str = "platform-up.log") -> subprocess.Popen:
        handle = (self.logs / log_name).open("a")
        return subprocess.Popen(
            [sys.executable, "-m", "local_platform.cli", *args],
            env=self.env,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, process: subprocess.Popen, log_name: str = "platform-up.log", timeout: float = 600) -> None:
        log = self.logs / log_name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in log.read_text():
                return
            if process.poll() is not None:
                pytest.fail(f"platform exited with {process.returncode}:\n{log.read_text()[-8000:]}")
            time.sleep(1)
        pytest.fail(f"no {READY_LINE!r} after {timeout:.0f} s:\n{log.read_text()[-8000:]}")

    def run_pipeline(self, command: str = "pipeline", timeout: float = 600) -> None:
        """`make pipeline` (data job and trainers), or with `command="data-job"` `make data-job` (the data job)."""
        log_name = f"{command}.log"
        code = self.start(command, log_name=log_name).wait(timeout=timeout)
        assert code == 0, (self.logs / log_name).read_text()[-8000:]

    @staticmethod
    def stop(process: subprocess.Popen, timeout: float = 90) -> int:
        """SIGTERM to the process group, as a service manager (or `kill -- -PGID`) would send."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        return process.wait(timeout=timeout)


def new_platform(data_dir: Path, logs: Path, up_args: tuple[str, ...] = ()) -> Platform:
    env = {k: v for k, v in os.environ.items() if k not in ("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")}
    env.update({name: str(free_port()) for name in PORT_NAMES})
    env.update(
        {
            "PLATFORM_DATA_DIR": str(data_dir),
            "BATCH_SIZE": "1000",
            "MLFLOW_WORKERS": "1",
            "GUNICORN_WORKERS": "2",
            "MODEL_POLL_SECONDS": "5",
            # its own network and container names: a platform a developer runs with make up-containers stays up
            "CONTAINER_PLATFORM_NAME": f"hp-e2e-{os.getpid()}",
        }
    )
    return Platform(env=env, logs=logs, up_args=up_args)
