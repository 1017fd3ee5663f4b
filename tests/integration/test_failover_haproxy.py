"""The failover controller against a real HAProxy (Debian's `haproxy`, started here with a small configuration and
two tiny backends standing in for two regions): the driver sets and reads weights through the runtime API and the
requests through the front follow them; the `failover-controller` process fails region-a over when its backend is
SIGKILLed (weights, `/metrics`, the requests through the front) and fails back once it answers again."""

from __future__ import annotations

import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from failover.config import HaproxyTarget
from failover.drivers.base import DriverError
from failover.drivers.haproxy import HaproxyDriver
from local_platform.processes import Child, free_port, http_ok, port_open

pytestmark = pytest.mark.integration
REGIONS = ["region-a", "region-b"]
# A region: answers every path with its name (the front's responses say which region served them).
BACKEND = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
name, port = sys.argv[1], int(sys.argv[2])
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"""
CONFIG = """global
    stats socket {socket} mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries 1
    option redispatch
frontend front
    bind 127.0.0.1:{front}
    default_backend web
backend web
    balance roundrobin
    server region-a 127.0.0.1:{a} weight 100
    server region-b 127.0.0.1:{b} weight 0
"""


def haproxy_binary() -> str:
    path = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")  # Debian's, off a user's PATH
    if path is None:
        print("haproxy not found on PATH (scripts/install_system_packages.sh installs it): HAProxy tests skipped")
        pytest.skip("haproxy is not installed")
    return path


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp, self.socket = tmp, str(tmp / "admin.sock")
        self.front, self.ports = free_port(), {name: free_port() for name in REGIONS}
        self.backends: dict[str, Child] = {}
        self.children: list[Child] = []

    def start_backend(self, name: str) -> None:
        child = Child(
            name, [sys.executable, "-c", BACKEND, name, str(self.ports[name])], log_path=self.tmp / f"{name}.log"
        )
        self.backends[name] = child.start().wait_ready(lambda: port_open("127.0.0.1", self.ports[name]), timeout=20)
        self.children.append(child)

    def kill_backend(self, name: str) -> None:
        process = self.backends[name].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def start_haproxy(self) -> None:
        config = self.tmp / "haproxy.cfg"
        config.write_text(
            CONFIG.format(socket=self.socket, front=self.front, a=self.ports["region-a"], b=self.ports["region-b"])
        )
        child = Child("haproxy", [haproxy_binary(), "-f", str(config), "-db"], log_path=self.tmp / "haproxy.log")
        self.children.append(
            child.start().wait_ready(lambda: Path(self.socket).exists() and port_open("127.0.0.1", self.front))
        )

    def served_by(self, count: int = 20) -> Counter[str]:
        """Which region answered each of `count` requests through the front (failures counted as "failed")."""
        seen: Counter[str] = Counter()
        for _ in range(count):
            try:
                answer = requests.get(f"http://127.0.0.1:{self.front}/", timeout=3)
                seen[answer.text if answer.ok else "failed"] += 1
            except requests.RequestException:
                seen["failed"] += 1
        return seen

    def driver(self) -> HaproxyDriver:
        return HaproxyDriver(HaproxyTarget(self.socket, "web"), REGIONS)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    haproxy_binary()
    running = Stack(tmp_path)
    try:
        for name in REGIONS:
            running.start_backend(name)
        running.start_haproxy()
        yield running
    finally:
        for child in reversed(running.children):
            child.stop()


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_the_driver_moves_the_traffic_through_the_runtime_api(stack: Stack) -> None:
    driver = stack.driver()
    assert driver.current_weights() == {"region-a": 100, "region-b": 0}
    assert stack.served_by() == {"region-a": 20}
    driver.set_weights({"region-a": 0, "region-b": 100})
    assert driver.current_weights() == {"region-a": 0, "region-b": 100}
    assert stack.served_by() == {"region-b": 20}
    driver.set_weights({"region-a": 50, "region-b": 50})
    assert stack.served_by() == {"region-a": 10, "region-b": 10}
    counted = driver.traffic()
    assert counted["region-a"].requests == 30 and counted["region-b"].requests == 30
    assert counted["region-a"].errors == 0


def test_the_driver_names_what_is_wrong(stack: Stack, tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="no server named region-c"):
        HaproxyDriver(HaproxyTarget(stack.socket, "web"), [*REGIONS, "region-c"]).current_weights()
    with pytest.raises(DriverError, match="runtime API"):
        HaproxyDriver(HaproxyTarget(str(tmp_path / "missing.sock"), "web"), REGIONS).current_weights()
    with pytest.raises(DriverError, match="runtime API"):
        HaproxyDriver(HaproxyTarget(f"127.0.0.1:{free_port()}", "web"), REGIONS).current_weights()


def metric(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))  # the exposition sorts them
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def test_the_controller_fails_over_when_a_region_dies_and_back_when_it_returns(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    urls = ",".join(f"{name}=http://127.0.0.1:{stack.ports[name]}/readyz" for name in REGIONS)
    env = {
        "FAILOVER_REGIONS": urls,
        "FAILOVER_INTERVAL_SECONDS": "0.3",
        "FAILOVER_PROBE_TIMEOUT_SECONDS": "0.5",
        "HAPROXY_RUNTIME_API": stack.socket,
        "FAILOVER_PORT": str(port),
        "PLATFORM_DATA_DIR": str(tmp_path / "data"),
        "PUBLISH_EVENTS": "false",
        "LOG_FORMAT": "json",
    }
    controller = Child("failover", [str(Path(sys.executable).with_name("failover-controller"))], env=env)
    controller.log_path = tmp_path / "controller.log"
    stack.children.append(controller.start().wait_ready(http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=30))

    def metrics() -> str:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

    driver = stack.driver()
    assert driver.current_weights() == {"region-a": 100, "region-b": 0}
    assert metric(metrics(), "region_health_status", region="region-a") == 1
    failovers = {"source_region": "region-a", "target_region": "region-b"}
    assert metric(metrics(), "failover_events_total", **failovers) == 0

    stack.kill_backend("region-a")
    eventually(lambda: driver.current_weights() == {"region-a": 0, "region-b": 100}, 10, "region-a failed over")
    text = metrics()
    assert metric(text, "region_health_status", region="region-a") == 0
    assert metric(text, "failover_events_total", **failovers) == 1
    assert metric(text, "region_traffic_weight", region="region-b") == 100
    assert stack.served_by() == {"region-b": 20}

    stack.start_backend("region-a")
    eventually(
        lambda: driver.current_weights() == {"region-a": 100, "region-b": 0}, 10, "region-a took its traffic back"
    )
    text = metrics()
    assert metric(text, "failover_events_total", source_region="region-b", target_region="region-a") == 1
    assert metric(text, "region_health_status", region="region-a") == 1
    assert metric(text, "multiregion_latency_ms", region="region-b", percentile="p50") is not None
    assert metric(text, "multiregion_request_rate", region="region-b") is not None  # from HAProxy's counters
    assert stack.served_by() == {"region-a": 20}
    controller.stop()
    actions = re.findall(r'"message": "traffic (\w+)"', controller.log_path.read_text())
    assert actions[:2] == ["drain", "failover"] or actions[:1] == ["failover"], actions
    assert actions[-1] == "failback", actions
