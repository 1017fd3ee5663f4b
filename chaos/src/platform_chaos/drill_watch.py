"""What the failover drill watches and does: the controller's metrics over time, and the SIGKILL of a region's
component found by the port it listens on (every process holding the listening socket, by process group, as
when its container dies)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger("chaos.drill")


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the drill's load started
    health: dict[str, float]  # region_health_status by region
    weight: dict[str, float]  # region_traffic_weight by region
    failovers: dict[tuple[str, str], float]  # failover_events_total by (source, target)
    unhealthy: dict[str, float] = field(default_factory=dict)  # region_unhealthy_events_total by region


def read_sample(url: str, at: float) -> Sample | None:
    try:
        text = requests.get(url, timeout=2).text
    except requests.RequestException:
        return None
    health: dict[str, float] = {}
    weight: dict[str, float] = {}
    failovers: dict[tuple[str, str], float] = {}
    unhealthy: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "region_health_status":
                health[sample.labels["region"]] = sample.value
            elif sample.name == "region_traffic_weight":
                weight[sample.labels["region"]] = sample.value
            elif sample.name == "failover_events_total":
                failovers[(sample.labels["source_region"], sample.labels["target_region"])] = sample.value
            elif sample.name == "region_unhealthy_events_total":
                unhealthy[sample.labels["region"]] = sample.value
    return Sample(at, health, weight, failovers, unhealthy)


@dataclass(eq=False)  # a thread must stay hashable
class Watcher(threading.Thread):
    """Reads the controller's /metrics every `period` seconds until stopped."""

    url: str
    started: float
    period: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(name="drill-watcher", daemon=True)

    def run(self) -> None:
        while not self.stop.wait(self.period):
            sample = read_sample(self.url, time.monotonic() - self.started)
            if sample is not None:
                self.samples.append(sample)


def first(samples: list[Sample], after: float | None, check: Callable[[Sample], bool]) -> float | None:
    """The time of the first sample at or after `after` for which `check(sample)` holds (None: never, or no
    `after`)."""
    if after is None:
        return None
    return next((s.at for s in samples if s.at >= after and check(s)), None)


def pids_listening(port: int) -> set[int]:
    """Every process holding a socket that listens on TCP `port` (gunicorn's master and its workers)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    pids: set[int] = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                pids.add(int(fd_dir.parent.name))
    return pids


def sigkill_listening(port: int, what: str, *, required: bool = True) -> list[int]:
    """SIGKILL the process groups of whatever listens on `port`; the groups killed (none, when nothing listens and
    not `required`)."""
    found: set[int] = set()
    for pid in pids_listening(port):
        with contextlib.suppress(ProcessLookupError):  # it exited since the scan
            found.add(os.getpgid(pid))
    if not found and required:
        raise RuntimeError(f"nothing listens on port {port}: cannot kill {what}")
    groups = sorted(found)
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    if groups:
        log.warning(f"SIGKILL {what} (port {port}, process groups {groups})")
    return groups


def hold_down(ports: Mapping[int, str], seconds: float, period: float = 0.2) -> int:
    """For `seconds`, SIGKILL again whatever the supervisor brings back to listen on `ports`: the region stays down
    that long, as a region in a crash loop does. A single kill is not an outage the controller must act on: the
    supervisor restarts a component a second later, often before the controller's third failed check. The number
    of kills made."""
    deadline = time.monotonic() + seconds
    kills = 0
    while time.monotonic() < deadline:
        for port, what in ports.items():
            kills += len(sigkill_listening(port, what, required=False))
        time.sleep(period)
    return kills
