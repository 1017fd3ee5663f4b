"""The global front of `make up-regions`: HAProxy (Debian's package) on 127.0.0.1:8090 in front of every
region's webapp, as a global load balancer is in front of regional clusters.

Each region is one server of the backend `web`, named after the region. The primary starts at weight 100, every
other region at `STANDBY_WEIGHT` (1): a warm standby that takes a trickle of traffic, so that HAProxy may
redispatch to it at once when a connection to the primary fails (a server with weight 0 is never chosen). HAProxy's
own health checks (`/readyz` every second, down after 2 failures) take a dead server out within about 2 s; the
failover controller sets the weights through the runtime API (`set weight web/<region> <n>`) on its own
schedule. A request that failed to connect, got no answer, or got 503 (webapp answers 503 only for what it did
not take, e.g. while its region's mlapp is down) is retried on another server (`retry-on`, POSTs included,
which HAProxy 2.6 does once the whole request is buffered before it is sent, `option http-buffer-request`:
checked by `tests/integration/test_regions_front.py`); a retried write with an idempotency key is stored once.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from local_platform.components import MissingPrerequisite
from local_platform.processes import Child

BACKEND = "web"
PRIMARY_WEIGHT = 100
STANDBY_WEIGHT = 1


def haproxy_config(front_port: int, runtime_port: int, regions: Mapping[str, int], primary: str) -> str:
    """The configuration text: `regions` maps each region's name to its webapp's port."""
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{port} weight {PRIMARY_WEIGHT if name == primary else STANDBY_WEIGHT} check"
        for name, port in regions.items()
    )
    return f"""global
    stats socket ipv4@127.0.0.1:{runtime_port} level admin
    log stdout format raw local0 notice

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    option http-buffer-request
    retry-on conn-failure empty-response response-timeout 503

frontend front
    bind 127.0.0.1:{front_port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET /readyz
    default-server inter 1s fall 2 rise 2
{servers}
"""


def haproxy(config_path: Path, log_path: Path | None = None) -> Child:
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        raise MissingPrerequisite("HAProxy is not installed (Debian: apt-get install haproxy; `make services` does)")
    return Child("front", [binary, "-db", "-f", str(config_path)], log_path=log_path)
