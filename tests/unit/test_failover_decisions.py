"""The failover rules as sequences of checks -> weights and decisions (failover.decisions, no I/O): a dying
primary is drained, then failed over; it takes its traffic back only after N healthy checks; a flapping region
is drained once and never failed over; slow regions, a restarted controller, active-active weights."""

from __future__ import annotations

import pytest

from failover.decisions import Level, Policy, State, step
from failover.scoring import Health, Observation, Thresholds, score

OK = Observation(ok=True, latency_ms=50.0)
FAST = Observation(ok=True, latency_ms=20.0)
SLOW = Observation(ok=True, latency_ms=300.0)  # degraded
VERY_SLOW = Observation(ok=True, latency_ms=800.0)  # unhealthy
DOWN = Observation(ok=False, detail="http://a/readyz: ConnectionError")
POLICY = Policy()


def run(rounds: list[dict[str, Observation]], *, regions=("a", "b"), policy=POLICY, state=None):
    """Each round's weights and decision actions, e.g. [({"a": 100, "b": 0}, []), ...]."""
    state = state or State.initial(list(regions), regions[0], policy)
    seen = []
    for observations in rounds:
        state, decisions = step(state, observations, policy)
        seen.append((dict(state.weights), [(d.action, d.source, d.target) for d in decisions]))
    return seen, state


def test_healthy_regions_keep_the_primary_serving_and_decide_nothing():
    seen, state = run([{"a": OK, "b": OK}] * 5)
    assert seen == [({"a": 100, "b": 0}, [])] * 5
    assert state.active == "a" and all(r.health is Health.HEALTHY for r in state.regions.values())


def test_a_dying_primary_is_drained_then_failed_over_after_three_failed_checks():
    seen, state = run([{"a": OK, "b": OK}] + [{"a": DOWN, "b": OK}] * 4)
    assert seen[1] == ({"a": 50, "b": 50}, [("drain", "a", "b")])  # 1 failure: degraded
    assert seen[2] == ({"a": 50, "b": 50}, [])  # 2 failures: still degraded, nothing new
    assert seen[3] == ({"a": 0, "b": 100}, [("failover", "a", "b")])  # 3 failures: unhealthy
    assert seen[4] == ({"a": 0, "b": 100}, [])
    assert state.active == "b" and state.regions["a"].level is Level.OUT


def test_failback_only_after_n_consecutive_healthy_checks():
    _, failed_over = run([{"a": DOWN, "b": OK}] * 3)
    seen, state = run([{"a": OK, "b": OK}] * 2 + [{"a": DOWN, "b": OK}] + [{"a": OK, "b": OK}] * 3, state=failed_over)
    assert [weights for weights, _ in seen[:5]] == [{"a": 0, "b": 100}] * 5  # a failure in between restarts the count
    assert seen[5] == ({"a": 100, "b": 0}, [("failback", "b", "a")])
    assert state.active == "a" and state.regions["a"].level is Level.IN


@pytest.mark.parametrize("checks", [2, 5])
def test_the_failback_count_is_configurable(checks):
    policy = Policy(failback_checks=checks)
    _, failed_over = run([{"a": DOWN, "b": OK}] * 3, policy=policy)
    seen, _ = run([{"a": OK, "b": OK}] * checks, state=failed_over, policy=policy)
    assert [actions for _, actions in seen] == [[]] * (checks - 1) + [[("failback", "b", "a")]]


def test_a_flapping_primary_is_drained_once_and_never_failed_over():
    seen, state = run([{"a": DOWN if i % 2 else OK, "b": OK} for i in range(20)])
    actions = [action for _, decided in seen for action in decided]
    assert actions == [("drain", "a", "b")]
    assert all(weights == {"a": 50, "b": 50} for weights, _ in seen[1:])
    assert state.active == "a"


def test_a_drained_region_is_restored_after_n_healthy_checks():
    seen, _ = run([{"a": SLOW, "b": OK}] + [{"a": OK, "b": OK}] * 3)
    assert seen[0] == ({"a": 50, "b": 50}, [("drain", "a", "b")])
    assert [weights for weights, _ in seen[1:3]] == [{"a": 50, "b": 50}] * 2
    assert seen[3] == ({"a": 100, "b": 0}, [("restore", "a", None)])


def test_over_the_unhealthy_latency_fails_over_at_once():
    seen, _ = run([{"a": VERY_SLOW, "b": OK}])
    assert seen == [({"a": 0, "b": 100}, [("failover", "a", "b")])]


def test_failover_goes_to_the_healthiest_then_fastest_region():
    regions = ("a", "b", "c", "d")
    round_ = {"a": DOWN, "b": SLOW, "c": OK, "d": FAST}
    seen, state = run([round_] * 3, regions=regions)
    assert seen[2][1] == [("failover", "a", "d")] and state.active == "d"
    assert seen[2][0] == {"a": 0, "b": 0, "c": 0, "d": 100}


def test_nowhere_to_go_keeps_the_traffic_where_it_is():
    seen, state = run([{"a": DOWN, "b": DOWN}] * 5)
    assert all(weights == {"a": 100, "b": 0} for weights, _ in seen)
    assert [d for _, d in seen] == [[]] * 5 and state.active == "a"
    assert state.regions["a"].health is Health.UNHEALTHY


def test_a_recovering_primary_beats_a_dead_stand_in():
    policy = Policy(failback_checks=5)
    _, failed_over = run([{"a": DOWN, "b": OK}] * 3, policy=policy)
    seen, state = run([{"a": OK, "b": DOWN}] * 3, state=failed_over, policy=policy)
    assert seen[0] == ({"a": 0, "b": 100}, [])  # b degraded, but a has not earned its way back: nowhere to drain to
    assert seen[2] == ({"a": 100, "b": 0}, [("failover", "b", "a")])  # b unhealthy: a is the one answering
    assert state.active == "a"


def test_active_active_drains_and_removes_any_region():
    policy = Policy(standby_weight=100)
    seen, _ = run(
        [{"a": OK, "b": OK}, {"a": OK, "b": SLOW}, {"a": OK, "b": VERY_SLOW}] + [{"a": OK, "b": OK}] * 3,
        policy=policy,
    )
    assert seen[0] == ({"a": 100, "b": 100}, [])
    assert seen[1] == ({"a": 100, "b": 50}, [("drain", "b", None)])
    assert seen[2] == ({"a": 100, "b": 0}, [("drain", "b", None)])
    assert seen[5] == ({"a": 100, "b": 100}, [("restore", "b", None)])


def test_a_restarted_controller_keeps_a_failover_until_the_primary_earns_it_back():
    state = State.resume(["a", "b"], "a", POLICY, {"a": 0, "b": 100})
    assert state.active == "b" and state.regions["a"].level is Level.OUT
    seen, _ = run([{"a": OK, "b": OK}] * 3, state=state)
    assert [d for _, d in seen] == [[], [], [("failback", "b", "a")]]
    assert State.resume(["a", "b"], "a", POLICY, {"a": 100, "b": 0}).active == "a"
    assert State.resume(["a", "b"], "a", POLICY, {"a": 0, "b": 0}).weights == {"a": 100, "b": 0}
    assert State.resume(["a", "b"], "a", POLICY, {"other": 5}).active == "a"


def test_a_region_missing_from_a_round_counts_as_failed():
    seen, state = run([{"b": OK}] * 3)
    assert seen[2][1] == [("failover", "a", "b")] and state.regions["a"].failures == 3


def test_the_spill_over_region_does_not_flap_with_latency_noise():
    regions = ("a", "b", "c")
    rounds = [{"a": SLOW, "b": OK, "c": FAST}, {"a": SLOW, "b": FAST, "c": OK}, {"a": SLOW, "b": OK, "c": FAST}]
    seen, _ = run(rounds, regions=regions)
    assert [weights for weights, _ in seen] == [{"a": 50, "b": 0, "c": 50}] * 3


@pytest.mark.parametrize(
    ("observation", "failures", "expected"),
    [
        (Observation(ok=True, latency_ms=199.9), 0, Health.HEALTHY),
        (Observation(ok=True, latency_ms=200.0), 0, Health.DEGRADED),
        (Observation(ok=True, latency_ms=500.0), 0, Health.DEGRADED),
        (Observation(ok=True, latency_ms=500.1), 0, Health.UNHEALTHY),
        (Observation(ok=False), 1, Health.DEGRADED),
        (Observation(ok=False), 2, Health.DEGRADED),
        (Observation(ok=False), 3, Health.UNHEALTHY),
        (Observation(ok=True, latency_ms=10.0, error_ratio=0.2), 0, Health.DEGRADED),
        (Observation(ok=True, latency_ms=10.0, error_ratio=0.01), 0, Health.HEALTHY),
    ],
)
def test_the_seeds_scores(observation, failures, expected):
    assert score(observation, failures, Thresholds()) is expected


def test_thresholds_are_configurable():
    strict = Thresholds(healthy_below_ms=50, unhealthy_above_ms=100, unhealthy_failures=1)
    assert score(Observation(ok=True, latency_ms=60), 0, strict) is Health.DEGRADED
    assert score(Observation(ok=True, latency_ms=101), 0, strict) is Health.UNHEALTHY
    assert score(Observation(ok=False), 1, strict) is Health.UNHEALTHY
