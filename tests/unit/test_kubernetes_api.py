"""The in-cluster Kubernetes API target and client (common.kubernetes_api): where the server is, an error naming the
variables when it is nowhere, and requests that carry the service account's current token and check the pod's CA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from common.kubernetes_api import SERVICE_ACCOUNT_DIR, KubernetesClient, KubernetesTarget
from common.settings import ConfigError


def target(env: dict[str, str]) -> KubernetesTarget:
    return KubernetesTarget.from_env(env, default_namespace="ml", needed_by="DISPATCH_MODE=kubernetes")


def test_the_pod_finds_the_server_its_service_account_and_its_namespace() -> None:
    pod = target({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"})
    assert pod == KubernetesTarget(
        "https://10.0.0.1:6443", "ml", SERVICE_ACCOUNT_DIR / "token", SERVICE_ACCOUNT_DIR / "ca.crt"
    )
    assert target({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}).api_url == "https://10.0.0.1:443"
    chosen = target(
        {
            "KUBERNETES_SERVICE_HOST": "10.0.0.1",
            "KUBERNETES_API_URL": "http://127.0.0.1:8001/",
            "KUBERNETES_SERVICE_ACCOUNT_DIR": "/sa",
            "POD_NAMESPACE": "web",
        }
    )
    assert chosen == KubernetesTarget("http://127.0.0.1:8001", "web", Path("/sa/token"), Path("/sa/ca.crt"))
    assert chosen.resource_url("batch/v1", "jobs") == "http://127.0.0.1:8001/apis/batch/v1/namespaces/web/jobs"
    assert chosen.resource_url("batch/v1", "cronjobs", "train-x").endswith("/namespaces/web/cronjobs/train-x")


def test_no_server_names_the_variables_and_the_setting_that_asked() -> None:
    with pytest.raises(ConfigError) as raised:
        target({"KUBERNETES_SERVICE_PORT": "443", "POD_NAMESPACE": "ml"})
    message = str(raised.value)
    assert message.startswith("DISPATCH_MODE=kubernetes but")
    assert "KUBERNETES_API_URL" in message and "KUBERNETES_SERVICE_HOST" in message


class Recorded:
    """Stands in for `requests.Session.request` (an instance on the class is not bound: no `self` of the session's
    is passed): keeps each call's arguments, answers 200."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        answer = requests.Response()
        answer.status_code = 200
        return answer


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    recorded = Recorded()
    monkeypatch.setattr(requests.Session, "request", recorded)
    return recorded


def test_every_call_reads_the_token_again(sent: Recorded, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("token-1\n")
    client = KubernetesClient(KubernetesTarget("https://k", "ml", tmp_path / "token", tmp_path / "ca.crt"), 3)
    client.request("GET", "https://k/a")
    (tmp_path / "token").write_text("token-2\n")  # the kubelet rotated the projected token
    client.request("POST", "https://k/b", json={"kind": "Job"}, content_type="application/json-patch+json")
    first, second = sent.calls
    assert first["headers"] == {"Authorization": "Bearer token-1", "Accept": "application/json"}
    assert (first["method"], first["url"], first["json"], first["timeout"]) == ("GET", "https://k/a", None, 3)
    assert second["headers"]["Authorization"] == "Bearer token-2"
    assert second["headers"]["Content-Type"] == "application/json-patch+json"
    assert second["json"] == {"kind": "Job"}
    client.close()


def test_the_server_is_checked_against_the_pods_ca_where_there_is_one(sent: Recorded, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    client = KubernetesClient(KubernetesTarget("https://k", "ml", tmp_path / "token", tmp_path / "ca.crt"))
    client.request("GET", "https://k/a")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    client.request("GET", "https://k/a")
    assert [call["verify"] for call in sent.calls] == [True, str(tmp_path / "ca.crt")]


def test_an_unreadable_token_is_an_os_error_and_nothing_is_sent(sent: Recorded, tmp_path: Path) -> None:
    client = KubernetesClient(KubernetesTarget("https://k", "ml", tmp_path / "token", tmp_path / "ca.crt"))
    with pytest.raises(OSError):
        client.request("GET", "https://k/a")
    assert sent.calls == []
