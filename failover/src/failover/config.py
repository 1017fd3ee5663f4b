"""The failover controller's configuration: the shared `Settings` plus the regions, the health rules, the traffic
driver and the metrics address, read once at start. Every variable is documented in failover/README.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from common.contracts.events import REGION_NAME
from common.kubernetes_api import KubernetesTarget
from common.settings import ConfigError, Settings, env_float, env_int, publish_events
from failover.decisions import Policy
from failover.scoring import Thresholds

SERVICE = "failover-controller"
MAX_WEIGHT = 256  # HAProxy's largest server weight (the Gateway API allows more)
DEFAULT_PROBE_PATH = "/readyz"
# `make up-regions`: region-a on the ports `make up` uses, region-b on 9080/9081; webapp and mlapp of each.
DEFAULT_REGIONS = (
    "region-a=http://127.0.0.1:8080|http://127.0.0.1:8081,region-b=http://127.0.0.1:9080|http://127.0.0.1:9081"
)
# Request and error rates per region where Prometheus is set: the web tier's requests and errors, by the
# `region` label that each region's scrape targets (or Prometheus's external labels) carry.
REQUESTS = '{__name__=~"prediction_requests_total|correction_requests_total", job="webapp"}'
DEFAULT_PROMQL_REQUEST_RATE = f"sum by (region) (rate({REQUESTS}[2m]))"
DEFAULT_PROMQL_ERROR_RATIO = (
    f'sum by (region) (rate(error_count_total{{job="webapp"}}[2m])) / sum by (region) (rate({REQUESTS}[2m]))'
)


class DriverKind(StrEnum):
    HAPROXY = "haproxy"  # a local (or any) HAProxy, through its runtime API
    GATEWAY = "gateway"  # the multi-cluster Gateway's HTTPRoute on GKE, through the Kubernetes API
    NONE = "none"  # decide, log, publish and export, but move nothing (a dry run)


@dataclass(frozen=True)
class Region:
    name: str
    probe_urls: tuple[str, ...]


@dataclass(frozen=True)
class HaproxyTarget:
    runtime_api: str  # a unix socket path, or host:port
    backend: str  # one server per region, named like the region


@dataclass(frozen=True)
class GatewayTarget:
    kubernetes: KubernetesTarget  # the API server, the pod's service account and the route's namespace
    route: str  # the HTTPRoute whose backendRef weights are set
    backends: Mapping[str, str]  # region -> the backendRef name that serves it


@dataclass(frozen=True)
class FailoverConfig:
    settings: Settings
    regions: tuple[Region, ...]
    primary: str
    policy: Policy
    interval_seconds: float
    probe_timeout_seconds: float
    latency_window: int  # checks per region behind multiregion_latency_ms
    prometheus_url: str | None
    promql_request_rate: str
    promql_error_ratio: str
    driver: DriverKind
    haproxy: HaproxyTarget | None
    gateway: GatewayTarget | None
    host: str
    port: int  # /healthz, /readyz, /metrics
    publish_events: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FailoverConfig:
        settings = Settings.from_env(SERVICE, env, require_project=False)
        regions = parse_regions(env.get("FAILOVER_REGIONS") or DEFAULT_REGIONS)
        names = [region.name for region in regions]
        primary = env.get("FAILOVER_PRIMARY") or names[0]
        if primary not in names:
            raise ConfigError(f"FAILOVER_PRIMARY {primary!r} is not one of FAILOVER_REGIONS ({', '.join(names)})")
        try:
            driver = DriverKind(env.get("FAILOVER_DRIVER") or "haproxy")
        except ValueError:
            raise ConfigError(
                f"FAILOVER_DRIVER must be haproxy, gateway or none, got {env['FAILOVER_DRIVER']!r}"
            ) from None
        return cls(
            settings=settings,
            regions=regions,
            primary=primary,
            policy=_policy(env),
            interval_seconds=env_float(env, "FAILOVER_INTERVAL_SECONDS", 10.0, minimum=0.1),
            probe_timeout_seconds=env_float(env, "FAILOVER_PROBE_TIMEOUT_SECONDS", 2.0, minimum=0.05, maximum=60),
            latency_window=env_int(env, "FAILOVER_LATENCY_WINDOW", 30, minimum=1, maximum=10_000),
            prometheus_url=(env.get("PROMETHEUS_URL") or "").rstrip("/") or None,
            promql_request_rate=env.get("FAILOVER_PROMQL_REQUEST_RATE") or DEFAULT_PROMQL_REQUEST_RATE,
            promql_error_ratio=env.get("FAILOVER_PROMQL_ERROR_RATIO") or DEFAULT_PROMQL_ERROR_RATIO,
            driver=driver,
            haproxy=_haproxy(env, settings) if driver is DriverKind.HAPROXY else None,
            gateway=_gateway(env, names) if driver is DriverKind.GATEWAY else None,
            host=env.get("FAILOVER_HOST", "127.0.0.1"),
            port=env_int(env, "FAILOVER_PORT", 8095, minimum=1, maximum=65535),
            publish_events=publish_events(env, settings),
        )


def parse_regions(raw: str) -> tuple[Region, ...]:
    """`name=url|url,name=url`: each region's probe URLs (a URL without a path is probed at /readyz)."""
    regions: list[Region] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        name, sep, urls = entry.partition("=")
        name = name.strip()
        if not sep or not re.match(REGION_NAME, name):
            raise ConfigError(
                f"FAILOVER_REGIONS entry {entry!r} must be name=url[|url...] with a name of lower-case letters, "
                "digits and dashes, e.g. region-a=http://127.0.0.1:8080|http://127.0.0.1:8081"
            )
        if name in (region.name for region in regions):
            raise ConfigError(f"FAILOVER_REGIONS names {name} twice")
        probes = tuple(_probe_url(name, url.strip()) for url in urls.split("|") if url.strip())
        if not probes:
            raise ConfigError(f"FAILOVER_REGIONS gives no URL to probe for {name}")
        regions.append(Region(name, probes))
    if len(regions) < 2:
        raise ConfigError("FAILOVER_REGIONS must name at least two regions (there is nothing to fail over to)")
    return tuple(regions)


def _probe_url(region: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"FAILOVER_REGIONS: {region}'s URL {url!r} is not an http(s) URL")
    return url.rstrip("/") + DEFAULT_PROBE_PATH if parts.path in ("", "/") else url


def _policy(env: Mapping[str, str]) -> Policy:
    healthy = env_float(env, "FAILOVER_HEALTHY_MS", 200.0, minimum=1)
    unhealthy = env_float(env, "FAILOVER_UNHEALTHY_MS", 500.0, minimum=1)
    if unhealthy < healthy:
        raise ConfigError(f"FAILOVER_UNHEALTHY_MS ({unhealthy:g}) must not be below FAILOVER_HEALTHY_MS ({healthy:g})")
    full = env_int(env, "FAILOVER_FULL_WEIGHT", 100, minimum=1, maximum=MAX_WEIGHT)
    return Policy(
        thresholds=Thresholds(
            healthy_below_ms=healthy,
            unhealthy_above_ms=unhealthy,
            unhealthy_failures=env_int(env, "FAILOVER_UNHEALTHY_FAILURES", 3, minimum=1),
            degraded_error_ratio=env_float(env, "FAILOVER_DEGRADED_ERROR_RATIO", 0.05, minimum=0, maximum=1),
        ),
        failback_checks=env_int(env, "FAILOVER_FAILBACK_CHECKS", 3, minimum=1),
        full_weight=full,
        drain_weight=env_int(env, "FAILOVER_DRAIN_WEIGHT", min(50, full), minimum=0, maximum=full),
        standby_weight=env_int(env, "FAILOVER_STANDBY_WEIGHT", 0, minimum=0, maximum=full),
    )


def _haproxy(env: Mapping[str, str], settings: Settings) -> HaproxyTarget:
    default_socket = settings.data_dir / "haproxy" / "admin.sock"
    return HaproxyTarget(
        runtime_api=env.get("HAPROXY_RUNTIME_API") or str(default_socket),
        backend=env.get("HAPROXY_BACKEND") or "web",
    )


def _gateway(env: Mapping[str, str], regions: list[str]) -> GatewayTarget:
    kubernetes = KubernetesTarget.from_env(env, default_namespace="web", needed_by="FAILOVER_DRIVER=gateway")
    pattern = env.get("FAILOVER_GATEWAY_BACKEND") or "webapp-{region}"
    if "{region}" not in pattern:
        raise ConfigError(f"FAILOVER_GATEWAY_BACKEND must contain {{region}}, got {pattern!r}")
    return GatewayTarget(
        kubernetes=kubernetes,
        route=env.get("FAILOVER_GATEWAY_ROUTE") or "webapp",
        backends={region: pattern.replace("{region}", region) for region in regions},
    )
