"""k8s_web/base/monitoring/alertmanager.yml, checked by Alertmanager's own tools (Debian's `prometheus-alertmanager`,
installed by scripts/install_system_packages.sh): `amtool check-config` accepts it, `amtool config routes test`
sends each severity to its receiver, and a real Alertmanager run with this file delivers a critical alert to
PagerDuty and Slack and a warning one to the webhook and Slack, each with its runbook, reading every URL and key
from the receiver files. Skips with the reason when amtool or alertmanager is missing.

Debian bookworm ships Alertmanager 0.25, older than the webhook's `url_file` (the image the cluster runs,
k8s_web/base/kustomization.yaml, has it): with such a binary the webhook's file is read here and written as `url`,
saying so; everything else is checked as it is."""

from __future__ import annotations

import json
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

from local_platform.monitoring import alertmanager_binary
from local_platform.processes import Child, free_port, http_ok

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "k8s_web" / "base" / "monitoring" / "alertmanager.yml"
MOUNT = "/etc/alertmanager/receivers/"  # where the Deployment mounts the Secret alertmanager-receivers
OLD_WEBHOOK = "field url_file not found"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        print("amtool is not installed (Debian: prometheus-alertmanager): the Alertmanager config tests are skipped")
        pytest.skip("amtool is not installed")
    return path


def checkable(amtool: str, text: str, tmp_path: Path, url: str = "http://127.0.0.1:9/webhook") -> Path:
    """The config as a file this amtool accepts: unchanged, or (older Alertmanager) with the webhook's url_file
    written as `url`."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    result = run(amtool, "check-config", str(path))
    if result.returncode != 0 and OLD_WEBHOOK in result.stdout + result.stderr:
        print(f"{amtool} predates the webhook's url_file: checking with the webhook URL written inline")
        config = yaml.safe_load(text)
        for receiver in config["receivers"]:
            for webhook in receiver.get("webhook_configs", []):
                webhook.pop("url_file")
                webhook["url"] = url
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_amtool_accepts_the_config(amtool: str, tmp_path: Path) -> None:
    path = checkable(amtool, CONFIG.read_text(), tmp_path)
    result = run(amtool, "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "2 receivers" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=ServiceDown"], "page"),
        (["severity=warning", "alertname=ModelInputDrift"], "ticket"),
        (["alertname=SomethingNew"], "ticket"),
    ],
)
def test_each_severity_routes_to_its_receiver(amtool: str, tmp_path: Path, labels: list[str], receiver: str) -> None:
    path = checkable(amtool, CONFIG.read_text(), tmp_path)
    result = run(amtool, "config", "routes", "test", f"--config.file={path}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


class Capture(BaseHTTPRequestHandler):
    """Stands in for PagerDuty, Slack and the webhook: keeps every JSON body by path."""

    received: dict[str, list[dict]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.setdefault(self.path, []).append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def capture() -> Iterator[tuple[str, dict[str, list[dict]]]]:
    received: dict[str, list[dict]] = {}
    handler = type("Handler", (Capture,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def alertmanager(amtool: str, capture: tuple[str, dict], tmp_path: Path) -> Iterator[str]:
    binary = alertmanager_binary()
    if binary is None:
        print("alertmanager is not installed (Debian: prometheus-alertmanager): the delivery test is skipped")
        pytest.skip("alertmanager is not installed")
    base, _ = capture
    receivers = tmp_path / "receivers"
    receivers.mkdir()
    (receivers / "pagerduty-routing-key").write_text("routing-key-from-the-secret")
    (receivers / "slack-webhook-url").write_text(f"{base}/slack")
    (receivers / "webhook-url").write_text(f"{base}/webhook")
    text = CONFIG.read_text().replace(MOUNT, f"{receivers}/")
    config = yaml.safe_load(checkable(amtool, text, tmp_path, url=f"{base}/webhook").read_text())
    config["route"]["group_wait"] = "1s"  # the cluster waits 30 s to gather a group
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["url"] = f"{base}/pagerduty"  # PagerDuty's Events API address, not a secret
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    command = [
        binary, f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
    ]  # fmt: skip
    child = Child("alertmanager", command, log_path=tmp_path / "alertmanager.log").start()
    try:
        child.wait_ready(http_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


def alert(name: str, severity: str, summary: str, **labels: str) -> dict:
    return {
        "labels": {"alertname": name, "severity": severity, "namespace": "web", **labels},
        "annotations": {
            "summary": summary,
            "description": f"{summary}, for long enough.",
            "runbook_url": f"docs/runbooks/{name}.md",
        },
    }


def test_alerts_reach_their_receivers_with_the_runbook(
    alertmanager: str, capture: tuple[str, dict[str, list[dict]]]
) -> None:
    _, received = capture
    alerts = [
        alert("ServiceDown", "critical", "mlapp pod mlapp-a is down", job="mlapp", pod="mlapp-a"),
        alert("ModelInputDrift", "warning", "Requests' sqft_living drifted", feature="sqft_living"),
    ]
    requests.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        received.get("/pagerduty") and received.get("/webhook") and len(received.get("/slack", [])) >= 2
    ):
        time.sleep(0.5)

    (page,) = received.get("/pagerduty", [])
    assert page["routing_key"] == "routing-key-from-the-secret" and page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == "ServiceDown: mlapp pod mlapp-a is down"
    assert page["payload"]["custom_details"]["runbook"] == "docs/runbooks/ServiceDown.md"

    (ticket,) = received.get("/webhook", [])
    assert ticket["receiver"] == "ticket" and ticket["status"] == "firing"
    assert [a["annotations"]["runbook_url"] for a in ticket["alerts"]] == ["docs/runbooks/ModelInputDrift.md"]

    slack = {m["attachments"][0]["title"]: m["attachments"][0]["text"] for m in received.get("/slack", [])}
    assert slack.keys() == {"[FIRING:1] ServiceDown (critical)", "[FIRING:1] ModelInputDrift (warning)"}
    assert "*mlapp pod mlapp-a is down*" in slack["[FIRING:1] ServiceDown (critical)"]
    assert "Runbook: docs/runbooks/ServiceDown.md" in slack["[FIRING:1] ServiceDown (critical)"]
    assert "Runbook: docs/runbooks/ModelInputDrift.md" in slack["[FIRING:1] ModelInputDrift (warning)"]
