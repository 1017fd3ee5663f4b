"""Each region's request rate and error ratio: from Prometheus where `PROMETHEUS_URL` is set (PromQL by the
`region` label), else from the load balancer's own counters where its driver keeps them (HAProxy), else unknown.
Neither ever fails a region by itself: an unreachable Prometheus only leaves the rates unknown for that round."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from failover.drivers.base import DriverError, TrafficCount

log = logging.getLogger("failover.rates")


@dataclass(frozen=True)
class Rates:
    request_rate: dict[str, float] = field(default_factory=dict)  # requests per second
    error_ratio: dict[str, float] = field(default_factory=dict)  # share of requests that failed (0-1)


class PrometheusRates:
    def __init__(self, url: str, request_query: str, error_query: str, timeout: float = 2.0) -> None:
        self.url, self.request_query, self.error_query, self.timeout = url, request_query, error_query, timeout
        self._failing = False

    def _vector(self, query: str) -> dict[str, float]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=self.timeout)
        answer.raise_for_status()
        body = answer.json()
        if body.get("status") != "success" or body["data"]["resultType"] != "vector":
            raise ValueError(f"unexpected answer: {str(body)[:200]}")
        values = {}
        for sample in body["data"]["result"]:
            region, value = sample["metric"].get("region"), float(sample["value"][1])
            if region and value == value:  # NaN (0/0: no requests) is not a rate
                values[region] = value
        return values

    def read(self) -> Rates:
        try:
            rates = Rates(self._vector(self.request_query), self._vector(self.error_query))
        except (requests.RequestException, ValueError, KeyError, TypeError, IndexError) as exc:
            if not self._failing:
                log.warning("Prometheus not readable: rates unknown until it is", extra={"error": str(exc)[:300]})
            self._failing = True
            return Rates()
        if self._failing:
            log.info("Prometheus readable again")
        self._failing = False
        return rates


class CounterRates:
    """Rates from cumulative counters read once per round (the difference over the time between two reads)."""

    def __init__(self, read: Callable[[], dict[str, TrafficCount]], clock: Callable[[], float] = time.monotonic):
        self._read, self._clock = read, clock
        self._last: tuple[float, dict[str, TrafficCount]] | None = None

    def read(self) -> Rates:
        try:
            counts, now = self._read(), self._clock()
        except DriverError as exc:
            log.warning("load balancer counters not readable", extra={"error": str(exc)[:300]})
            self._last = None
            return Rates()
        last, self._last = self._last, (now, counts)
        if last is None or now <= last[0]:
            return Rates()
        seconds, before = now - last[0], last[1]
        rates, ratios = {}, {}
        for region, count in counts.items():
            if region not in before or count.requests < before[region].requests:
                continue  # new, or the load balancer restarted and its counters began again
            requests_made = count.requests - before[region].requests
            rates[region] = requests_made / seconds
            if requests_made:
                ratios[region] = (count.errors - before[region].errors) / requests_made
        return Rates(rates, ratios)
