"""The failover drill's verdict from the controller's samples and the load's ledger, without running anything."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import cast

import pytest

from common.settings import ConfigError
from platform_chaos.config import DrillConfig
from platform_chaos.drill import wait_for_end
from platform_chaos.drill_report import outcome
from platform_chaos.drill_watch import Sample, Watcher
from platform_chaos.ledger import Ledger

A, B = "region-a", "region-b"


def sample(at: float, health_a: float, weight_a: float, failovers: float = 0, failbacks: float = 0) -> Sample:
    return Sample(
        at=at,
        health={A: health_a, B: 1.0},
        weight={A: weight_a, B: 100.0 if weight_a == 0 else 1.0},
        failovers={(A, B): failovers, (B, A): failbacks},
    )


def timeline() -> list[Sample]:
    return [
        sample(5, 1, 100),
        sample(19, 1, 100),
        sample(21, 0.5, 50),
        sample(26, 0, 0, failovers=1),
        sample(40, 1, 0, failovers=1),
        sample(47, 1, 100, failovers=1, failbacks=1),
    ]


def ledger(corrections: int, failed: int = 0) -> Ledger:
    book = Ledger()
    for number in range(corrections):
        request = book.new(f"k{number}", "correction")
        request.status, request.event_id = 202, f"e{number}"
        if number < failed:
            request.refusals.append("503: mlapp unavailable")
    return book


def test_a_clean_failover_and_failback_passes() -> None:
    book = ledger(10)
    stored = {"collection_2": {r.street: 1 for r in book.requests()}}
    result = outcome(book, stored, timeline(), killed_at=20.0, outage_ended=30.0)
    assert (result.detected_after, result.failover_after, result.moved_after) == (6.0, 6.0, 6.0)
    assert (result.recovered_after, result.failback_after) == (20.0, 27.0)
    assert (result.outage_seconds, result.metrics_read) == (10.0, 4)
    assert (30.0, "region-a's outage ends: its webapp and mlapp may come back") in result.timeline
    assert result.passed, result.checks


def test_a_drill_whose_watcher_read_nothing_after_the_kill_says_so() -> None:
    result = outcome(ledger(2), {"collection_2": {}}, timeline()[:1], killed_at=20.0, outage_ended=30.0)
    assert result.metrics_read == 0 and not result.passed


def test_lost_or_doubled_corrections_and_too_many_failures_fail_the_drill() -> None:
    book = ledger(10, failed=1)
    streets = [r.street for r in book.requests()]
    stored = {"collection_2": {streets[0]: 2, **{s: 1 for s in streets[2:]}}}
    result = outcome(book, stored, timeline(), killed_at=20.0, outage_ended=30.0)
    assert (result.corrections_lost, result.corrections_duplicated, result.failed) == (1, 1, 1)
    assert result.failed_share == 0.1
    failed = [check for check, ok in result.checks.items() if not ok]
    assert failed == ["at most 2% of requests failed", "no accepted correction lost or stored twice"]


def test_no_failover_and_no_failback_are_reported_as_missed() -> None:
    samples = [sample(5, 1, 100), sample(25, 0.5, 50), sample(60, 1, 50)]
    result = outcome(ledger(2), {"collection_2": {}}, samples, killed_at=20.0, outage_ended=30.0)
    assert result.detected_after is None and result.failover_after is None and result.failback_after is None
    assert not result.passed


class Watching:
    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples


def drill_config(end_after_failback: str | None, seconds: float = 100) -> DrillConfig:
    env = {"DRILL_SECONDS": str(seconds), "DRILL_KILL_AFTER_SECONDS": "20"}
    return DrillConfig.from_env(
        env | ({"DRILL_END_AFTER_FAILBACK_SECONDS": end_after_failback} if end_after_failback else {})
    )


def test_the_load_ends_that_long_after_traffic_is_back_on_region_a() -> None:
    started = time.monotonic() - 52  # traffic came back at 47 s: 52 s is past 47 + 4
    wait_for_end(drill_config("4"), cast(Watcher, Watching(timeline())), killed_at=20.0, started=started)
    assert time.monotonic() - started < 60


def test_without_a_failback_or_the_setting_the_load_runs_its_whole_duration() -> None:
    for setting, samples in (("4", timeline()[:4]), (None, timeline())):
        started = time.monotonic() - 99.2  # 0.8 s before DRILL_SECONDS (100 s) end
        wait_for_end(drill_config(setting), cast(Watcher, Watching(samples)), killed_at=20.0, started=started)
        assert time.monotonic() - started >= 100


def test_an_outage_that_does_not_end_before_the_drill_does_is_refused_naming_the_variables() -> None:
    assert drill_config(None).outage_seconds == 10.0
    env = {"DRILL_SECONDS": "30", "DRILL_KILL_AFTER_SECONDS": "20", "DRILL_OUTAGE_SECONDS": "10"}
    with pytest.raises(ConfigError, match=r"DRILL_KILL_AFTER_SECONDS.*DRILL_OUTAGE_SECONDS.*DRILL_SECONDS"):
        DrillConfig.from_env(env)
    assert DrillConfig.from_env(env | {"DRILL_OUTAGE_SECONDS": "0"}).outage_seconds == 0.0


def test_a_negative_end_after_failback_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="DRILL_END_AFTER_FAILBACK_SECONDS"):
        drill_config("-1")
    assert drill_config("4").end_after_failback_seconds == 4.0
    assert drill_config(None).end_after_failback_seconds is None


def test_an_unhealthy_blip_between_two_samples_still_counts_as_detected() -> None:
    """A region restarted within a second is unhealthy for one controller round: the gauge never reads 0 in a
    sample, the controller's count of unhealthy events does go up."""
    book = ledger(10)
    stored = {"collection_2": {r.street: 1 for r in book.requests()}}

    def blip(at: float, weight_a: float, events: float, **counts: float) -> Sample:
        return replace(sample(at, 1, weight_a, **counts), unhealthy={A: events, B: 0})

    samples = [
        blip(19, 100, 2),
        blip(21, 50, 2),
        blip(25, 0, 3, failovers=1),
        blip(27, 100, 3, failovers=1, failbacks=1),
    ]
    result = outcome(book, stored, samples, killed_at=20.0, outage_ended=30.0)
    assert result.detected_after == 5.0 and result.failover_after == 5.0
    assert [what for _, what in result.timeline][2:4] == [
        "region-a reads unhealthy",
        "failover region-a -> region-b counted",
    ]
    assert result.passed, result.checks
    still = [replace(s, unhealthy={A: 2, B: 0}) for s in samples]  # the count never moved: nothing detected
    assert outcome(book, stored, still, killed_at=20.0, outage_ended=30.0).detected_after is None
