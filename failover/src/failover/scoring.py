"""How one check of a region is scored, with the seed's thresholds as defaults: healthy under 200 ms with no
failure; degraded at 200-500 ms or after 1-2 consecutive failed checks (or an error ratio above the limit, where
Prometheus reports one); unhealthy over 500 ms or after 3 consecutive failed checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


# `region_health_status`: the seed's 1 (healthy) and 0 (unhealthy), and half-way for degraded.
STATUS_VALUE = {Health.HEALTHY: 1.0, Health.DEGRADED: 0.5, Health.UNHEALTHY: 0.0}
RANK = {Health.HEALTHY: 0, Health.DEGRADED: 1, Health.UNHEALTHY: 2}  # lower is better


@dataclass(frozen=True)
class Thresholds:
    healthy_below_ms: float = 200.0
    unhealthy_above_ms: float = 500.0
    unhealthy_failures: int = 3  # consecutive failed checks
    degraded_error_ratio: float = 0.05  # only where an error ratio is known (Prometheus)


@dataclass(frozen=True)
class Observation:
    """One check of a region: `ok` when every probe answered 2xx in time; `latency_ms` is the slowest probe's
    time (None when a probe failed); `error_ratio` is the share of failed requests, where it is known."""

    ok: bool
    latency_ms: float | None = None
    error_ratio: float | None = None
    detail: str = ""


def score(observation: Observation, failures: int, thresholds: Thresholds) -> Health:
    """The health of a region whose latest check is `observation`, after `failures` consecutive failed checks
    (this one included)."""
    if failures >= thresholds.unhealthy_failures:
        return Health.UNHEALTHY
    latency = observation.latency_ms
    if latency is not None and latency > thresholds.unhealthy_above_ms:
        return Health.UNHEALTHY
    if failures > 0 or not observation.ok:
        return Health.DEGRADED
    if latency is not None and latency >= thresholds.healthy_below_ms:
        return Health.DEGRADED
    ratio = observation.error_ratio
    if ratio is not None and ratio > thresholds.degraded_error_ratio:
        return Health.DEGRADED
    return Health.HEALTHY
