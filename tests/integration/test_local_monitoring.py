"""`make up`'s local monitoring with the real binaries (Debian's `prometheus` and `prometheus-alertmanager`,
installed by `make services`): started as `make up` starts them, Prometheus scrapes a tiny target standing in
for webapp and sees it up, sees the absent components down, loads the cluster's rules and sends to the local
Alertmanager. Skips with the reason when a binary is missing."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from local_platform import monitoring
from local_platform.processes import Child, free_port
from local_platform.stack import Ports

pytestmark = pytest.mark.integration

SCRAPE_WAIT = 60.0  # the first scrape comes within one interval (2 s here) of the start


class Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"# TYPE tiny_requests_total counter\ntiny_requests_total 3\n"
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def tiny_target() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def binaries() -> None:
    for name, found in (("prometheus", shutil.which("prometheus")), ("alertmanager", monitoring.alertmanager_binary())):
        if found is None:
            print(f"{name} is not installed ({monitoring.INSTALL}): the local monitoring test is skipped")
            pytest.skip(f"{name} is not installed")


@pytest.fixture
def running(binaries: None, tiny_target: int, tmp_path: Path) -> Iterator[tuple[Ports, list[Child]]]:
    ports = Ports(
        webapp=tiny_target, mlapp=free_port(), dbapp=free_port(), dispatcher=free_port(),
        prometheus=free_port(), alertmanager=free_port(),
    )  # fmt: skip
    children = monitoring.start(ports, tmp_path / "data", tmp_path, scrape_interval="2s")  # make up: 15 s
    try:
        yield ports, children
    finally:
        for child in reversed(children):
            child.stop()


def query(ports: Ports, promql: str) -> dict[str, str]:
    """{job: value} of an instant query."""
    answer = requests.get(f"http://127.0.0.1:{ports.prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    answer.raise_for_status()
    return {r["metric"].get("job", ""): r["value"][1] for r in answer.json()["data"]["result"]}


def test_prometheus_scrapes_the_stack_and_sends_to_alertmanager(
    running: tuple[Ports, list[Child]], tmp_path: Path
) -> None:
    ports, children = running
    assert [child.name for child in children] == ["alertmanager", "prometheus"]
    deadline = time.monotonic() + SCRAPE_WAIT
    up: dict[str, str] = {}
    while time.monotonic() < deadline and not {"webapp", "mlapp", "dbapp", "dispatcher"} <= set(up):
        up = query(ports, "up")
        time.sleep(1)
    assert up.get("webapp") == "1", up
    assert (up.get("mlapp"), up.get("dbapp"), up.get("dispatcher")) == ("0", "0", "0"), up
    assert query(ports, 'tiny_requests_total{namespace="local", pod="webapp-local"}') == {"webapp": "3"}

    base = f"http://127.0.0.1:{ports.prometheus}/api/v1"
    groups = requests.get(f"{base}/rules", timeout=5).json()["data"]["groups"]
    alerts = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"ServiceDown", "ChampionLiveMaeHigh", "ModelInputDrift"} <= alerts
    managers = requests.get(f"{base}/alertmanagers", timeout=5).json()["data"]["activeAlertmanagers"]
    assert [m["url"] for m in managers] == [f"http://127.0.0.1:{ports.alertmanager}/api/v2/alerts"]
    status = requests.get(f"http://127.0.0.1:{ports.alertmanager}/api/v2/status", timeout=5).json()
    assert "receiver: local" in status["config"]["original"]
    assert (tmp_path / "data" / "prometheus" / "data").is_dir()
    assert (tmp_path / "prometheus.log").is_file()


def test_the_generated_config_passes_promtool(binaries: None, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "Debian's prometheus package ships promtool beside prometheus"
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(monitoring.prometheus_config(Ports(), alertmanager=True)))
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout
