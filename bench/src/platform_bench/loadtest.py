"""A/B load tests: every target measured once per round, the order reversed every other round, so a drift of
the machine (heat, a background job) shifts every target alike instead of favouring whichever runs first.

The figures of a case are the median over its rounds; every round is kept in `values`.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from platform_bench import wrk
from platform_bench.context import BenchContext

log = logging.getLogger("bench")

WARMUP_SECONDS = 2.0
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """One thing under load: a URL and the bodies POSTed to it."""

    name: str
    url: str
    bodies: Path
    content_type: str = wrk.JSON_TYPE
    headers: tuple[str, ...] = ()


@dataclass
class Measured:
    target: str
    concurrency: int
    threads: int  # wrk threads
    rounds: list[wrk.WrkResult] = field(default_factory=list)

    def _median(self, name: str) -> float:
        return cast(float, statistics.median(getattr(r, name) for r in self.rounds))

    @property
    def requests_per_second(self) -> float:
        return self._median("requests_per_second")

    @property
    def p50_ms(self) -> float:
        return self._median("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self._median("p99_ms")

    @property
    def errors(self) -> int:
        """Every round's errors: one failed answer anywhere counts."""
        return sum(r.errors for r in self.rounds)

    def summary(self) -> str:
        return (
            f"{self.requests_per_second:,.0f} req/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"{self.errors} errors"
        )

    def values(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "concurrency": self.concurrency,
            "wrk_threads": self.threads,
            "requests_per_second": self.requests_per_second,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
            "requests": sum(r.requests for r in self.rounds),
            "rounds": [{**asdict(r), "errors": r.errors} for r in self.rounds],
        }


def ab_order(items: Sequence[T], round_index: int) -> list[T]:
    """Round 0 in the given order, round 1 reversed, round 2 in order again..."""
    return list(items) if round_index % 2 == 0 else list(reversed(items))


def _wrk(target: Target, concurrency: int, threads: int, seconds: float) -> wrk.WrkResult:
    return wrk.run(
        target.url,
        target.bodies,
        connections=concurrency,
        threads=threads,
        duration_seconds=seconds,
        content_type=target.content_type,
        headers=target.headers,
    )


def measure(
    ctx: BenchContext, targets: Sequence[Target], concurrencies: Sequence[int]
) -> dict[tuple[str, int], Measured]:
    """A short warm-up per target (WARMUP_SECONDS, never longer than one run), then `ctx.config.rounds` rounds of
    every (concurrency, target) pair."""
    cores = os.cpu_count() or 1
    warmup = min(WARMUP_SECONDS, ctx.config.duration_seconds)
    for target in targets:
        warm = _wrk(target, max(concurrencies), wrk.threads_for(max(concurrencies), cores), warmup)
        log.info("warmed up", extra={"target": target.name, "requests": warm.requests, "errors": warm.errors})
    results: dict[tuple[str, int], Measured] = {}
    for round_index in range(ctx.config.rounds):
        for concurrency in concurrencies:
            threads = wrk.threads_for(concurrency, cores)
            for target in ab_order(targets, round_index):
                result = _wrk(target, concurrency, threads, ctx.config.duration_seconds)
                log.info(
                    "measured",
                    extra={
                        "target": target.name,
                        "concurrency": concurrency,
                        "round": round_index + 1,
                        **asdict(result),
                    },
                )
                results.setdefault((target.name, concurrency), Measured(target.name, concurrency, threads))
                results[(target.name, concurrency)].rounds.append(result)
    return results
