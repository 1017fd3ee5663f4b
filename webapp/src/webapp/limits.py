"""Abuse limits on the browser forms: a request rate per client, and a bound on uploads processed at once.

Both live in this process. With W gunicorn workers in P pods a client may send up to W x P times the rate
(requests spread over workers); the limit is there to stop floods, not to meter. The client is the address the
request came from; behind proxies that append `X-Forwarded-For` (ingress-nginx), `TRUSTED_PROXY_HOPS` says how
many of its entries to trust (see `webapp.app`), so each person is counted, not the proxy.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_CLIENTS = 10_000  # buckets kept (least recently seen dropped first): memory stays bounded under a flood


class RateLimiter:
    """A token bucket per client: `per_minute` requests a minute on average, bursts of up to `burst`."""

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 2))
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, updated)
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """0 when `client` may go on (and the request is counted); else how long until it may, in seconds."""
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        return wait


class Busy(RuntimeError):
    """Every upload slot of this process is taken."""


class UploadSlots:
    """At most `limit` uploads validated at once in this process (each holds one file's chunks in memory)."""

    def __init__(self, limit: int):
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise Busy("every upload slot is taken")
        try:
            yield
        finally:
            self._slots.release()


def retry_after(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
