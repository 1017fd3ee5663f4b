"""SIGTERM to a service under the shared gunicorn settings (`common.gunicorn_conf`): an idle keep-alive
connection does not hold the stop, a request in flight is still answered."""

from __future__ import annotations

import http.client
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_platform import components
from local_platform.processes import Child, free_port

pytestmark = pytest.mark.integration

GRACEFUL_SECONDS = 30  # what an idle connection held the stop for before the fix
APP = """
    import time
    from flask import Flask

    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.get("/slow")
    def slow():
        time.sleep(2)
        return "done"
"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Child, int]]:
    (tmp_path / "tiny_app.py").write_text(textwrap.dedent(APP))
    port = free_port()
    env = {"PYTHONPATH": str(tmp_path), "GUNICORN_WORKERS": "1", "GUNICORN_GRACEFUL_TIMEOUT": str(GRACEFUL_SECONDS)}
    child = components.gunicorn_service("tiny", "tiny_app:app", port, env, tmp_path / "tiny.log")
    child.start().wait_ready(components.service_ready(port), timeout=30)
    yield child, port
    child.stop(grace=1)


def _stop_seconds(child: Child) -> float:
    """Seconds from SIGTERM to the whole server's exit; it is killed if it outlives the graceful timeout."""
    started = time.monotonic()
    child.stop(grace=GRACEFUL_SECONDS + 5)
    return time.monotonic() - started


def test_an_idle_keep_alive_connection_does_not_hold_the_stop(service: tuple[Child, int]) -> None:
    child, port = service
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    idle.request("GET", "/healthz")
    assert idle.getresponse().read() == b"ok"
    time.sleep(1)  # the worker has put the connection back among its idle keep-alive ones
    seconds = _stop_seconds(child)
    idle.close()
    assert seconds < GRACEFUL_SECONDS / 3, f"the stop took {seconds:.1f} s with one idle keep-alive connection"


def test_a_request_in_flight_is_answered_after_sigterm(service: tuple[Child, int]) -> None:
    child, port = service
    answers: list[tuple[int, bytes]] = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        connection.request("GET", "/slow")
        response = connection.getresponse()
        answers.append((response.status, response.read()))

    asking = threading.Thread(target=ask)
    asking.start()
    time.sleep(0.5)  # the request is being handled
    stopping = threading.Thread(target=_stop_seconds, args=(child,))
    stopping.start()
    asking.join(timeout=20)
    stopping.join(timeout=GRACEFUL_SECONDS + 10)
    assert answers == [(200, b"done")]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert child.process is not None and child.process.poll() is not None
