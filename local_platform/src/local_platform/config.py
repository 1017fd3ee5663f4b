"""The launcher's configuration (`make up`, `make up-containers`, `make pipeline`), read once from the
environment. What the components themselves read is in their own config objects; this is only what decides
where the local platform lives and listens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from common.settings import LOCAL_PROJECT, env_int, gcp_project, platform_data_dir
from local_platform.stack import Ports

# CONTAINER_PLATFORM_NAME names the network and prefixes the containers, so a second platform (the e2e tests)
# can run beside the one `make up-containers` started without touching it.
DEFAULT_CONTAINER_NAME = "house-price"


@dataclass(frozen=True)
class LauncherConfig:
    data_dir: Path  # PLATFORM_DATA_DIR
    ports: Ports  # PUBSUB_PORT, MLFLOW_PORT, DBAPP_PORT, MLAPP_PORT, WEBAPP_PORT, DISPATCHER_PORT
    gcp_project: str  # GCP_PROJECT (or GOOGLE_CLOUD_PROJECT): the project id given to the emulator's clients
    container_name: str  # CONTAINER_PLATFORM_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LauncherConfig:
        defaults = Ports()
        ports = {
            port.name: env_int(env, f"{port.name.upper()}_PORT", getattr(defaults, port.name), minimum=1, maximum=65535)
            for port in fields(Ports)
        }
        return cls(
            data_dir=platform_data_dir(env),
            ports=Ports(**ports),
            gcp_project=gcp_project(env) or LOCAL_PROJECT,
            container_name=env.get("CONTAINER_PLATFORM_NAME") or DEFAULT_CONTAINER_NAME,
        )
