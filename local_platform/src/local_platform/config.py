"""The launcher's configuration (`make up`, `make up-containers`, `make pipeline`), read once from the
environment. What the components themselves read is in their own config objects; this is only what decides
where the local platform lives and listens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from common.settings import LOCAL_PROJECT, env_float, env_int, gcp_project, platform_data_dir
from local_platform.stack import Ports

# CONTAINER_PLATFORM_NAME names the network and prefixes the containers, so a second platform (the e2e tests)
# can run beside the one `make up-containers` started without touching it.
DEFAULT_CONTAINER_NAME = "house-price"


@dataclass(frozen=True)
class LauncherConfig:
    data_dir: Path  # PLATFORM_DATA_DIR
    # PUBSUB_PORT, MLFLOW_PORT, DBAPP_PORT, MLAPP_PORT, WEBAPP_PORT, DISPATCHER_PORT, PROMETHEUS_PORT, ALERTMANAGER_PORT
    ports: Ports
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


@dataclass(frozen=True)
class RegionsConfig:
    """`make up-regions`: region-a on the launcher's ports, region-b beside it, the front and the controller."""

    launcher: LauncherConfig
    region_b: Ports  # REGION_B_WEBAPP_PORT, REGION_B_MLAPP_PORT, REGION_B_DBAPP_PORT (9080, 9081, 9082)
    front_port: int  # FRONT_PORT: HAProxy, the global front
    controller_port: int  # FAILOVER_PORT: the failover controller's /metrics
    runtime_port: int  # HAPROXY_RUNTIME_PORT: HAProxy's runtime API (the controller sets weights through it)
    # REGIONS_PROBE_INTERVAL_SECONDS: the controller's probe interval here (1 s). A killed component is back within
    # about 5 s here (the supervisor restarts it after 1 s; mlapp then loads its model), so checks every 2 s saw
    # only 2 failures in a row on a quiet machine, never the 3 that make a region unhealthy; on GKE it stays 10 s.
    probe_interval: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RegionsConfig:
        launcher = LauncherConfig.from_env(env)

        def port(name: str, default: int) -> int:
            return env_int(env, name, default, minimum=1, maximum=65535)

        region_b = replace(
            launcher.ports,
            webapp=port("REGION_B_WEBAPP_PORT", 9080),
            mlapp=port("REGION_B_MLAPP_PORT", 9081),
            dbapp=port("REGION_B_DBAPP_PORT", 9082),
        )
        return cls(
            launcher=launcher,
            region_b=region_b,
            front_port=port("FRONT_PORT", 8090),
            controller_port=port("FAILOVER_PORT", 8095),
            runtime_port=port("HAPROXY_RUNTIME_PORT", 8096),
            probe_interval=env_float(env, "REGIONS_PROBE_INTERVAL_SECONDS", 1.0, minimum=0.2),
        )
