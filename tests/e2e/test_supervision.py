"""`make up` supervises like Kubernetes: a component killed with SIGKILL is restarted while the others keep
serving, and when the launcher itself is SIGKILLed no component is left running holding its port."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_platform.processes import port_open
from tests.e2e.platform_runner import PORT_NAMES, Platform, new_platform


def _children(parent: int) -> dict[int, str]:
    """pid -> command line of every direct child of `parent` (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout:.0f} s")


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, object]]:
    running = new_platform(tmp_path_factory.mktemp("supervised-data"), tmp_path_factory.mktemp("supervised-logs"))
    process = running.up("--skip-pipeline")
    try:
        running.wait_ready(process, timeout=300)
        yield running, process
    finally:
        if process.poll() is None:
            Platform.stop(process)


def test_a_killed_service_is_restarted_and_the_others_keep_serving(supervised) -> None:
    running, process = supervised
    (master,) = [pid for pid, cmd in _children(process.pid).items() if "dbapp.app:create_app()" in cmd]
    os.kill(master, signal.SIGKILL)
    _wait(lambda: not _healthy(running.url("DBAPP_PORT") + "/healthz"), 10, "dbapp still answered after SIGKILL")
    assert _healthy(running.url("WEBAPP_PORT") + "/healthz"), "webapp must keep serving"
    _wait(lambda: _healthy(running.url("DBAPP_PORT") + "/healthz"), 60, "dbapp was not restarted")
    assert process.poll() is None, "the launcher must keep running"
    assert "dbapp restarted (restart 1)" in (running.logs / "platform-up.log").read_text()


def test_components_die_with_a_sigkilled_launcher(supervised) -> None:
    running, process = supervised
    os.killpg(process.pid, signal.SIGKILL)  # the launcher's group only: each component has its own session
    process.wait(timeout=10)
    for name in PORT_NAMES:
        port = int(running.env[name])
        _wait(lambda port=port: not port_open("127.0.0.1", port), 30, f"{name} ({port}) still open")
