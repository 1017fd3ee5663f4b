"""Prometheus and Alertmanager beside the local platform (`make up`), when their binaries are installed (Debian's
`prometheus` and `prometheus-alertmanager`; `make services` installs both). Prometheus scrapes every component
of the stack that serves `/metrics` on its local port and evaluates the same rule file as on Kubernetes;
Alertmanager holds what fires (its UI, `amtool`) and notifies no one, since the receivers are the cluster's.
Both keep their data under the platform data folder. A missing binary or a port already taken (a system
Prometheus, say) costs one log line: the platform runs without them."""

from __future__ import annotations

import logging
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from local_platform.processes import Child, NotReady, http_ok, port_open
from local_platform.stack import REPO_ROOT, Ports

log = logging.getLogger("platform")

RULES = REPO_ROOT / "k8s_web" / "base" / "monitoring" / "alert-rules.yml"
# Components that serve /metrics, named as the rules and the dashboard name their `job`. MLflow has no /metrics.
SCRAPED = ("webapp", "mlapp", "dbapp", "dispatcher")
INSTALL = "Debian: apt-get install prometheus prometheus-alertmanager, or `make services`"
# Bounded for a laptop: the cluster keeps 15 days or 16 GiB on its volume.
RETENTION = ("--storage.tsdb.retention.time=15d", "--storage.tsdb.retention.size=1GB")
READY_TIMEOUT = 60.0


def prometheus_config(ports: Ports, alertmanager: bool, scrape_interval: str = "15s") -> dict[str, Any]:
    """The local scrape config: one job per component (static, on 127.0.0.1), labelled like a pod of namespace
    `local` so the rules' `namespace` and `pod` read sensibly, the repository's rule file, and Alertmanager."""
    port_of = {field.name: getattr(ports, field.name) for field in fields(ports)}
    targets = {name: port_of[name] for name in SCRAPED if name in port_of}
    if alertmanager:
        targets["alertmanager"] = ports.alertmanager
    jobs: list[dict[str, Any]] = [
        {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{ports.prometheus}"]}]}
    ]
    for name, port in targets.items():
        labels = {"namespace": "local", "pod": f"{name}-local"}
        jobs.append({"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": labels}]})
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
            "external_labels": {"platform": "house-price-local"},
        },
        "rule_files": [str(RULES)],
        "scrape_configs": jobs,
    }
    if alertmanager:
        manager = {"static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]}
        config["alerting"] = {"alertmanagers": [manager]}
    return config


def alertmanager_config() -> dict[str, Any]:
    """One receiver without integrations: alerts are grouped as on the cluster and shown, never sent."""
    return {
        "route": {"receiver": "local", "group_by": ["alertname", "namespace"]},
        "receivers": [{"name": "local"}],
    }


def alertmanager_binary() -> str | None:
    """Upstream names it `alertmanager`, Debian `prometheus-alertmanager`."""
    return shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")


def _write(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_child(
    binary: str, ports: Ports, home: Path, alertmanager: bool, log_dir: Path | None, scrape_interval: str = "15s"
) -> Child:
    config = _write(home / "prometheus.yml", prometheus_config(ports, alertmanager, scrape_interval))
    cmd = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        *RETENTION,
        f"--web.listen-address=127.0.0.1:{ports.prometheus}",
        "--web.enable-lifecycle",
    ]
    return Child("prometheus", cmd, log_path=log_dir / "prometheus.log" if log_dir else None)


def alertmanager_child(binary: str, port: int, home: Path, log_dir: Path | None) -> Child:
    config = _write(home / "alertmanager.yml", alertmanager_config())
    cmd = [
        binary,
        f"--config.file={config}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # one instance: no gossip port
    ]
    return Child("alertmanager", cmd, log_path=log_dir / "alertmanager.log" if log_dir else None)


def _started(child: Child, port: int) -> Child | None:
    """The child once it answers /-/ready, or None (logged, stopped) when it does not."""
    child.start()
    try:
        return child.wait_ready(http_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=READY_TIMEOUT)
    except NotReady as exc:
        log.warning(f"{child.name} did not start, the platform runs without it: {exc}")
        child.stop()
        return None


def _usable(name: str, binary: str | None, port: int) -> str | None:
    """The binary, when there is one and its port is free; else None, said in one log line."""
    if binary is None:
        log.info(f"{name} is not installed, so `make up` runs without it ({INSTALL})")
        return None
    if port_open("127.0.0.1", port):
        variable = f"{name.upper()}_PORT"
        log.warning(f"port {port} is already in use, so the local {name} is not started (choose another: {variable})")
        return None
    return binary


def start(ports: Ports, data_dir: Path, log_dir: Path | None = None, scrape_interval: str = "15s") -> list[Child]:
    """Start Alertmanager, then Prometheus, as far as they are installed and their ports free; the children that
    run, for the caller to supervise and stop. `scrape_interval` is also the rules' evaluation interval."""
    prometheus = _usable("prometheus", shutil.which("prometheus"), ports.prometheus)
    if prometheus is None:
        return []
    children: list[Child] = []
    manager = _usable("alertmanager", alertmanager_binary(), ports.alertmanager)
    if manager is not None:
        home = data_dir / "alertmanager"
        child = _started(alertmanager_child(manager, ports.alertmanager, home, log_dir), ports.alertmanager)
        children += [child] if child else []
    home = data_dir / "prometheus"
    prometheus_run = prometheus_child(prometheus, ports, home, bool(children), log_dir, scrape_interval)
    child = _started(prometheus_run, ports.prometheus)
    return children + ([child] if child else [])


def addresses(children: list[Child], ports: Ports) -> list[str]:
    """The lines of `make up`'s announcement for the monitoring that runs."""
    running = {child.name for child in children}
    known = (("Prometheus", ports.prometheus), ("Alertmanager", ports.alertmanager))
    return [f"  {name:<13} http://127.0.0.1:{port}" for name, port in known if name.lower() in running]
