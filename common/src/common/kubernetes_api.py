"""The Kubernetes API server as a pod sees it, for the processes that call it from inside the cluster: the retraining
dispatcher (Jobs from the trainer CronJobs) and the failover controller's gateway driver (an HTTPRoute's weights).

`KubernetesTarget.from_env` reads where the server is (`KUBERNETES_API_URL`, else the `KUBERNETES_SERVICE_HOST`
and `KUBERNETES_SERVICE_PORT` that Kubernetes sets in every pod), the pod's service account folder
(`KUBERNETES_SERVICE_ACCOUNT_DIR`: its token and CA bundle) and its namespace (`POD_NAMESPACE`). `KubernetesClient`
sends authenticated JSON requests to it: the token is read on every call, since projected tokens are rotated while
the pod runs, and the server's certificate is checked against the pod's CA bundle (the system's CAs where there is
none). Only `requests`, a base dependency of `common`, is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from common.settings import ConfigError, env_path

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class KubernetesTarget:
    """Where the API server is and who we are to it (the pod's service account)."""

    api_url: str
    namespace: str
    token_path: Path
    ca_path: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, default_namespace: str, needed_by: str) -> KubernetesTarget:
        """`needed_by` is the setting that asks for the API (e.g. `DISPATCH_MODE=kubernetes`), named in the error when
        no server is set; `default_namespace` is used when `POD_NAMESPACE` is unset."""
        host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
        api_url = env.get("KUBERNETES_API_URL") or (f"https://{host}:{port}" if host else "")
        if not api_url:
            raise ConfigError(
                f"{needed_by} but neither KUBERNETES_API_URL nor KUBERNETES_SERVICE_HOST is set "
                "(Kubernetes sets the latter in every pod)"
            )
        account = env_path(env, "KUBERNETES_SERVICE_ACCOUNT_DIR") or SERVICE_ACCOUNT_DIR
        return cls(
            api_url=api_url.rstrip("/"),
            namespace=env.get("POD_NAMESPACE") or default_namespace,
            token_path=account / "token",
            ca_path=account / "ca.crt",
        )

    def resource_url(self, api_version: str, plural: str, name: str = "") -> str:
        """The URL of the namespaced resources `plural` of `api_version` (`batch/v1`, `jobs`), or of one of them."""
        base = f"{self.api_url}/apis/{api_version}/namespaces/{self.namespace}/{plural}"
        return f"{base}/{name}" if name else base


class KubernetesClient:
    """Authenticated JSON requests to the target's API server, on one kept-alive session."""

    def __init__(self, target: KubernetesTarget, timeout: float = 10.0) -> None:
        self.target, self.timeout = target, timeout
        self._session = requests.Session()

    def request(self, method: str, url: str, *, json: Any = None, content_type: str | None = None) -> requests.Response:
        """Send `json` (if any) with the service account's current token. Whatever the server answers is returned,
        error statuses included; a token that cannot be read raises OSError, a server that cannot be reached
        `requests.RequestException`."""
        token = self.target.token_path.read_text().strip()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        verify: str | bool = str(self.target.ca_path) if self.target.ca_path.exists() else True
        return self._session.request(method, url, json=json, headers=headers, verify=verify, timeout=self.timeout)

    def close(self) -> None:
        self._session.close()
