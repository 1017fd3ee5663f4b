"""One round of checks: every probe URL of every region at once (GET, bounded by the probe timeout), so a hung
region costs one timeout per round, not one per URL. A region's check is ok when every probe answered 2xx; its
latency is its slowest probe's."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from failover.config import Region
from failover.scoring import Observation


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float
    detail: str = ""


def probe(url: str, timeout: float) -> ProbeResult:
    """GET `url` on a new connection (connection set-up is part of what a client waits for)."""
    started = time.perf_counter()
    try:
        with requests.get(url, timeout=timeout, allow_redirects=False, stream=True) as answer:
            status = answer.status_code
    except requests.RequestException as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return ProbeResult(False, elapsed, f"{url}: {type(exc).__name__}")
    elapsed = (time.perf_counter() - started) * 1000
    if 200 <= status < 300:
        return ProbeResult(True, elapsed)
    return ProbeResult(False, elapsed, f"{url}: HTTP {status}")


class Prober:
    def __init__(self, regions: tuple[Region, ...], timeout: float) -> None:
        self.regions, self.timeout = regions, timeout
        self._pool = ThreadPoolExecutor(max_workers=sum(len(r.probe_urls) for r in regions), thread_name_prefix="probe")

    def check(self) -> dict[str, Observation]:
        futures = {
            region.name: [self._pool.submit(probe, url, self.timeout) for url in region.probe_urls]
            for region in self.regions
        }
        observations = {}
        for name, pending in futures.items():
            results = [future.result() for future in pending]
            failed = [result.detail for result in results if not result.ok]
            slowest = max(result.latency_ms for result in results)
            observations[name] = Observation(
                ok=not failed, latency_ms=None if failed else slowest, detail="; ".join(failed)
            )
        return observations

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
