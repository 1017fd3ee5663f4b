"""The failover drill's outage (`platform_chaos.drill_watch.hold_down`) against real processes: a listener that a
stand-in supervisor restarts 0.3 s after each exit stays down while the drill holds it, and comes back after."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from local_platform.processes import free_port, port_open
from platform_chaos.drill_watch import hold_down, sigkill_listening

pytestmark = pytest.mark.integration

LISTENER = (
    "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); "
    "time.sleep(600)"
)


def wait_until(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def restarted_listener() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A listener in its own process group, started again 0.3 s after it exits until the test ends."""
    port, started, stop = free_port(), [], threading.Event()

    def supervise() -> None:
        while not stop.is_set():
            child = subprocess.Popen([sys.executable, "-c", LISTENER, str(port)], start_new_session=True)
            started.append(child)
            while child.poll() is None and not stop.is_set():
                time.sleep(0.05)
            stop.wait(0.3)

    thread = threading.Thread(target=supervise, daemon=True)
    thread.start()
    yield port, started
    stop.set()
    thread.join(timeout=5)
    for child in started:
        child.kill()
        child.wait()


def test_the_outage_kills_every_restart_until_it_ends(
    restarted_listener: tuple[int, list[subprocess.Popen[bytes]]],
) -> None:
    port, started = restarted_listener
    assert wait_until(lambda: port_open("127.0.0.1", port)), "the listener never started"
    assert sigkill_listening(port, "the listener")
    began = time.monotonic()
    kills = hold_down({port: "the listener"}, 2.0, period=0.1)
    assert time.monotonic() - began >= 2.0
    assert kills >= 2, f"the stand-in supervisor restarts every ~0.5 s, only {kills} restarts were killed"
    assert all(child.poll() is not None for child in started[:-1])  # every earlier start was killed
    assert wait_until(lambda: port_open("127.0.0.1", port)), "the listener did not come back after the outage"


def test_the_first_kill_names_the_port_when_nothing_listens() -> None:
    port = free_port()
    with pytest.raises(RuntimeError, match=f"nothing listens on port {port}"):
        sigkill_listening(port, "region-a's webapp")
    assert hold_down({port: "region-a's webapp"}, 0.3, period=0.1) == 0
