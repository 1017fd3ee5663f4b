"""Tracking-server configuration from the environment (see the README's configuration table)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from common.settings import env_flag, env_int, platform_data_dir

# Host headers the server accepts (fnmatch patterns, as `mlflow server --allowed-hosts` reads them). Setting
# the flag replaces MLflow's default list, so that list's local and private-address entries are repeated here
# (in-cluster clients and Prometheus may address the pod by IP), plus every in-cluster name of the `mlflow`
# Service in namespace `ml`. Any other Host header gets 403 (DNS-rebinding protection); /health never checks.
LOCAL_HOSTS = ("localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*")
PRIVATE_ADDRESS_HOSTS = ("10.*", "192.168.*", *(f"172.{i}.*" for i in range(16, 32)))
CLUSTER_HOSTS = tuple(
    pattern
    for name in ("mlflow", "mlflow.ml", "mlflow.ml.svc", "mlflow.ml.svc.cluster.local")
    for pattern in (name, f"{name}:*")
)
DEFAULT_ALLOWED_HOSTS = ",".join((*LOCAL_HOSTS, *PRIVATE_ADDRESS_HOSTS, *CLUSTER_HOSTS))
JOB_EXECUTION_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"


def with_driver(uri: str) -> str:
    """`postgresql://...` -> `postgresql+psycopg2://...`: SQLAlchemy 2.1 maps the bare scheme to psycopg 3,
    while the image ships psycopg2. A URI that names its driver is left alone."""
    scheme, sep, rest = uri.partition("://")
    return f"postgresql+psycopg2://{rest}" if sep and scheme in ("postgresql", "postgres") else uri


@dataclass(frozen=True)
class ServerConfig:
    backend_store_uri: SecretStr  # MLFLOW_BACKEND_STORE_URI: a database URI carries its password
    artifacts_destination: str
    host: str
    port: int
    workers: int
    allowed_hosts: str
    # MLflow's background job runner (GenAI jobs: trace archival, scorers) starts a runner and ~7 huey
    # consumer processes (~2 GB of RAM, slow start-up); nothing here uses it, so it is off unless asked for.
    job_execution: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        env = os.environ if env is None else env
        data_dir = platform_data_dir(env)
        extra_hosts = [h.strip() for h in env.get("MLFLOW_EXTRA_ALLOWED_HOSTS", "").split(",") if h.strip()]
        return cls(
            backend_store_uri=SecretStr(
                with_driver(env.get("MLFLOW_BACKEND_STORE_URI") or f"sqlite:///{data_dir / 'mlflow.db'}")
            ),
            artifacts_destination=env.get("MLFLOW_ARTIFACTS_DESTINATION", (data_dir / "mlartifacts").as_uri()),
            host=env.get("MLFLOW_HOST", "127.0.0.1"),
            port=env_int(env, "MLFLOW_PORT", 5000, minimum=1, maximum=65535),
            workers=env_int(env, "MLFLOW_WORKERS", 2, minimum=1, maximum=64),
            allowed_hosts=",".join((DEFAULT_ALLOWED_HOSTS, *extra_hosts)),
            job_execution=bool(env_flag(env, JOB_EXECUTION_ENV, False)),
        )

    def server_env(self) -> dict[str, str]:
        """Variables for the `mlflow server` process, on top of the inherited environment."""
        return {JOB_EXECUTION_ENV: "true" if self.job_execution else "false"}

    def server_args(self) -> list[str]:
        return [
            "server",
            "--backend-store-uri",
            self.backend_store_uri.get_secret_value(),  # in-process: `cli.main(args=...)`, never a command line
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
