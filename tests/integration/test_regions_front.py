"""The global front of `make up-regions` (`local_platform.haproxy`) with Debian's real HAProxy in front of two
stand-in regions: a POST that region-a answers 503, or cannot take at all, is answered by region-b; the runtime
API moves the traffic as the failover controller will."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from local_platform.haproxy import haproxy, haproxy_config
from local_platform.processes import free_port, port_open

pytestmark = pytest.mark.integration


class Region:
    """A stand-in regional webapp: `/readyz` 200, POST answers `status` with the region's name."""

    def __init__(self, name: str) -> None:
        self.name, self.status = name, 200
        region = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(200)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer(region.status)

            def _answer(self, status: int) -> None:
                body = region.name.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def front(tmp_path: Path) -> Iterator[tuple[str, int, dict[str, Region]]]:
    if not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()):
        print("HAProxy is not installed (make services installs it): the front tests are skipped")
        pytest.skip("HAProxy is not installed")
    regions = {name: Region(name) for name in ("region-a", "region-b")}
    front_port, runtime_port = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(front_port, runtime_port, {n: r.port for n, r in regions.items()}, "region-a"))
    child = haproxy(config, tmp_path / "haproxy.log").start()
    try:
        child.wait_ready(lambda: port_open("127.0.0.1", front_port), timeout=30)
        yield f"http://127.0.0.1:{front_port}", runtime_port, regions
    finally:
        child.stop()
        for region in regions.values():
            region.close()


def answers(url: str, count: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(count):
        answer = requests.post(url + "/api/corrections", json={"x": 1}, timeout=10)
        seen[f"{answer.status_code} {answer.text}"] += 1
    return seen


def runtime(port: int, command: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(command.encode() + b"\n")
        return conn.makefile().read()


def test_the_primary_takes_the_traffic_and_the_standby_a_trickle(front) -> None:
    url, _, _ = front
    seen = answers(url, 202)
    assert seen["200 region-a"] == 200 and seen["200 region-b"] == 2


def test_a_post_the_primary_refuses_with_503_is_answered_by_the_standby(front) -> None:
    url, _, regions = front
    regions["region-a"].status = 503
    assert answers(url, 30) == Counter({"200 region-b": 30})


def test_a_dead_primary_loses_no_request(front) -> None:
    url, _, regions = front
    regions["region-a"].close()
    assert answers(url, 30) == Counter({"200 region-b": 30})


def test_the_runtime_api_moves_the_traffic(front) -> None:
    url, port, _ = front
    runtime(port, "set weight web/region-a 0")
    runtime(port, "set weight web/region-b 100")
    time.sleep(0.2)
    assert answers(url, 20) == Counter({"200 region-b": 20})
    assert "region-a" in runtime(port, "show servers state web")
