"""The failover drill's verdict: the timeline read off the controller's metrics, and the one table."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field

from platform_chaos.drill_watch import Sample, first
from platform_chaos.ledger import COLLECTIONS, Ledger

PRIMARY, SECONDARY = "region-a", "region-b"
DETECT_WITHIN_SECONDS = 30.0
MAX_FAILED_SHARE = 0.02


@dataclass
class Outcome:
    killed_at: float
    outage_seconds: float  # region-a's components were killed again whenever they came back, this long
    detected_after: float | None  # region-a unhealthy (region_health_status 0, or region_unhealthy_events_total up)
    failover_after: float | None  # failover_events_total{region-a -> region-b} counted
    moved_after: float | None  # region-a's weight 0, region-b's full
    recovered_after: float | None  # region-a healthy again
    failback_after: float | None  # region-a's weight full again
    requests: int
    failed: int  # requests with at least one failed attempt (each was retried with its Idempotency-Key)
    never_accepted: int
    corrections_accepted: int
    corrections_lost: int
    corrections_duplicated: int
    metrics_read: int  # samples of the controller's /metrics after the kill (0: the watcher saw nothing)
    timeline: list[tuple[float, str]] = field(default_factory=list)

    @property
    def failed_share(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    @property
    def checks(self) -> dict[str, bool]:
        return {
            f"unhealthy within {DETECT_WITHIN_SECONDS:.0f} s": _within(self.detected_after, DETECT_WITHIN_SECONDS),
            f"failover counted within {DETECT_WITHIN_SECONDS:.0f} s": _within(self.failover_after, 30),
            f"at most {MAX_FAILED_SHARE:.0%} of requests failed": self.failed_share <= MAX_FAILED_SHARE,
            "no accepted correction lost or stored twice": not (self.corrections_lost or self.corrections_duplicated),
            "traffic back on region-a": self.failback_after is not None,
        }

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "failed_share": self.failed_share, "checks": self.checks, "passed": self.passed}


def _within(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _since(moment: float | None, killed_at: float) -> float | None:
    return None if moment is None else round(moment - killed_at, 1)


def moved_at(samples: list[Sample], killed_at: float) -> float | None:
    """When traffic left region-a after the kill: its weight 0, region-b's above 0."""
    return first(samples, killed_at, lambda s: s.weight.get(PRIMARY) == 0 and s.weight.get(SECONDARY, 0) > 0)


def failback_at(samples: list[Sample], killed_at: float) -> float | None:
    """When region-a had its full weight (as before the kill) again, after traffic had left it."""
    full = max((s.weight.get(PRIMARY, 0.0) for s in samples if s.at < killed_at), default=0.0)
    return first(samples, moved_at(samples, killed_at), lambda s: full > 0 and s.weight.get(PRIMARY) == full)


def outcome(
    ledger: Ledger, stored: dict[str, dict[str, int]], samples: list[Sample], killed_at: float, outage_ended: float
) -> Outcome:
    before = next((s for s in reversed(samples) if s.at < killed_at), None)
    baseline = before.failovers.get((PRIMARY, SECONDARY), 0.0) if before else 0.0
    unhealthy_before = before.unhealthy.get(PRIMARY, 0.0) if before else 0.0
    # read unhealthy, or counted unhealthy since the last sample: a region restarted within a second can be
    # unhealthy for one controller round only, between two samples
    detected = first(
        samples, killed_at, lambda s: s.health.get(PRIMARY) == 0 or s.unhealthy.get(PRIMARY, 0.0) > unhealthy_before
    )
    failover = first(samples, killed_at, lambda s: s.failovers.get((PRIMARY, SECONDARY), 0.0) > baseline)
    moved = moved_at(samples, killed_at)
    recovered = first(samples, detected, lambda s: s.health.get(PRIMARY) == 1)
    failback = failback_at(samples, killed_at)
    requests = ledger.requests()
    corrections = [r for r in requests if r.kind == "correction" and r.accepted]
    counts = [stored.get(COLLECTIONS["correction"], {}).get(r.street, 0) for r in corrections]
    timeline = [
        (0.0, "steady load starts on the front"),
        (killed_at, "SIGKILL region-a's webapp and mlapp"),
        (outage_ended, "region-a's outage ends: its webapp and mlapp may come back"),
    ]
    for moment, what in (
        (detected, "region-a reads unhealthy"),
        (failover, "failover region-a -> region-b counted"),
        (moved, "traffic weights: region-a 0, region-b full"),
        (recovered, "region-a healthy again"),
        (failback, "traffic back on region-a"),
    ):
        if moment is not None:
            timeline.append((moment, what))
    return Outcome(
        killed_at=round(killed_at, 1),
        outage_seconds=round(outage_ended - killed_at, 1),
        detected_after=_since(detected, killed_at),
        failover_after=_since(failover, killed_at),
        moved_after=_since(moved, killed_at),
        recovered_after=_since(recovered, killed_at),
        failback_after=_since(failback, killed_at),
        requests=len(requests),
        failed=sum(1 for r in requests if r.refusals),
        never_accepted=sum(1 for r in requests if not r.accepted),
        corrections_accepted=len(corrections),
        corrections_lost=sum(1 for c in counts if c == 0),
        corrections_duplicated=sum(1 for c in counts if c > 1),
        metrics_read=sum(1 for s in samples if s.at >= killed_at),
        timeline=sorted(((round(t, 1), what) for t, what in timeline), key=lambda entry: entry[0]),  # ties: in order
    )


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def print_report(result: Outcome) -> None:
    lines = ["", "Timeline (seconds since the load started):"]
    lines += [f"  {at:6.1f}  {what}" for at, what in result.timeline]
    rows = [
        ("seconds region-a was held down", _seconds(result.outage_seconds)),
        ("seconds to detect (region-a unhealthy)", _seconds(result.detected_after)),
        ("seconds to move traffic (failover counted)", _seconds(result.failover_after)),
        ("seconds until the weights moved", _seconds(result.moved_after)),
        ("requests failed during the switch", f"{result.failed} of {result.requests} ({result.failed_share:.2%})"),
        ("requests never accepted", str(result.never_accepted)),
        ("accepted corrections lost", f"{result.corrections_lost} of {result.corrections_accepted}"),
        ("accepted corrections stored twice", str(result.corrections_duplicated)),
        ("seconds to fail back (after the kill)", _seconds(result.failback_after)),
        ("controller metrics read after the kill", str(result.metrics_read)),
    ]
    width = max(len(name) for name, _ in rows)
    lines += ["", f"{'measure':<{width}}  result", f"{'-' * width}  ------"]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [""] + [f"  [{'ok' if ok else 'MISSED'}] {check}" for check, ok in result.checks.items()]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
