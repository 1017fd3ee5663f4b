"""The latency percentiles of `multiregion_latency_ms`: each region's last N successful checks (a sliding window
of probe round trips), nearest-rank percentiles."""

from __future__ import annotations

import math
from collections import deque

PERCENTILES = {"p50": 50, "p95": 95, "p99": 99}


class LatencyWindow:
    def __init__(self, size: int) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, latency_ms: float) -> None:
        self._samples.append(latency_ms)

    def percentiles(self) -> dict[str, float]:
        """{"p50": ..., "p95": ..., "p99": ...}; empty before the first successful check."""
        ordered = sorted(self._samples)
        if not ordered:
            return {}
        return {label: ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for label, p in PERCENTILES.items()}
