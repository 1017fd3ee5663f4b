"""Tracking-server configuration from the environment (see the README's configuration table)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Host headers the server accepts: local use plus every in-cluster name of the `mlflow` Service in `ml`.
DEFAULT_ALLOWED_HOSTS = (
    "localhost,localhost:*,127.0.0.1,127.0.0.1:*,"
    "mlflow,mlflow:*,mlflow.ml,mlflow.ml:*,mlflow.ml.svc,mlflow.ml.svc:*,"
    "mlflow.ml.svc.cluster.local,mlflow.ml.svc.cluster.local:*"
)


@dataclass(frozen=True)
class ServerConfig:
    backend_store_uri: str
    artifacts_destination: str
    host: str
    port: int
    workers: int
    allowed_hosts: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        env = os.environ if env is None else env
        data_dir = Path(env.get("PLATFORM_DATA_DIR", ".data")).resolve()
        extra_hosts = env.get("MLFLOW_EXTRA_ALLOWED_HOSTS", "")
        port_raw = env.get("MLFLOW_PORT", "5000")
        workers_raw = env.get("MLFLOW_WORKERS", "2")
        for name, raw in (("MLFLOW_PORT", port_raw), ("MLFLOW_WORKERS", workers_raw)):
            if not raw.isdigit():
                raise SystemExit(f"{name} must be a whole number, got {raw!r}")
        return cls(
            backend_store_uri=env.get("MLFLOW_BACKEND_STORE_URI", f"sqlite:///{data_dir / 'mlflow.db'}"),
            artifacts_destination=env.get("MLFLOW_ARTIFACTS_DESTINATION", (data_dir / "mlartifacts").as_uri()),
            host=env.get("MLFLOW_HOST", "127.0.0.1"),
            port=int(port_raw),
            workers=int(workers_raw),
            allowed_hosts=",".join(h for h in (DEFAULT_ALLOWED_HOSTS, extra_hosts) if h),
        )

    def server_args(self) -> list[str]:
        return [
            "server",
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            self.artifacts_destination,
            "--serve-artifacts",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--allowed-hosts",
            self.allowed_hosts,
        ]
