"""The failover rules, as a pure function from (state, one round of checks) to (new state, decisions): no clock,
no network, so every sequence of checks (a dying region, a flapping one, a slow one) is a plain unit test.

Each region is held at a level that only a run of healthy checks lowers again (the hysteresis):
- `IN`: it takes its normal share of traffic;
- `DRAINED`: it was degraded: its weight is lowered to the drain weight (and, when it is the region serving the
  traffic, the healthiest other region takes the rest, so the drain moves traffic rather than only a number);
- `OUT`: it was unhealthy: weight 0, and if it was serving the traffic, the healthiest, lowest-latency region
  that is not unhealthy now takes all of it (failover; a region still earning its way back counts, after every
  region that is `IN` or `DRAINED`: a region that answers beats one that does not).
A region goes back to `IN` after `failback_checks` consecutive healthy checks; the primary going back to `IN`
while another region serves the traffic takes it back (failback). A region is never set to 0 when there is
nowhere else for its traffic to go.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Literal

from failover.scoring import RANK, Health, Observation, Thresholds, score

Action = Literal["drain", "restore", "failover", "failback"]


class Level(IntEnum):
    IN = 0
    DRAINED = 1
    OUT = 2


@dataclass(frozen=True)
class Policy:
    thresholds: Thresholds = field(default_factory=Thresholds)
    failback_checks: int = 3
    full_weight: int = 100  # the region serving the traffic
    drain_weight: int = 50  # a degraded region
    standby_weight: int = 0  # every other region (100: active-active)


@dataclass(frozen=True)
class RegionState:
    failures: int = 0  # consecutive failed checks
    healthy_checks: int = 0  # consecutive checks scored healthy
    level: Level = Level.IN
    health: Health = Health.HEALTHY
    latency_ms: float | None = None


@dataclass(frozen=True)
class Decision:
    action: Action
    source: str
    target: str | None
    reason: str


@dataclass(frozen=True)
class State:
    primary: str
    active: str  # the region serving the traffic: the primary, or the region it failed over to
    regions: Mapping[str, RegionState]  # in the configured order (ties are broken by it)
    weights: Mapping[str, int]

    @classmethod
    def initial(cls, regions: Sequence[str], primary: str, policy: Policy) -> State:
        states = {name: RegionState() for name in regions}
        return cls(primary, primary, states, base_weights(regions, primary, policy))

    @classmethod
    def resume(cls, regions: Sequence[str], primary: str, policy: Policy, current: Mapping[str, int]) -> State:
        """The state that the load balancer's present weights imply (the controller restarted): if a region other
        than the primary carries the most weight, the primary was failed over and must earn its way back."""
        if not current or set(current) != set(regions) or max(current.values()) <= 0:
            return cls.initial(regions, primary, policy)
        top = max(current.values())
        active = primary if current[primary] == top else next(r for r in regions if current[r] == top)
        states = {name: RegionState() for name in regions}
        if active != primary:
            states[primary] = RegionState(level=Level.OUT, health=Health.UNHEALTHY)
        return cls(primary, active, states, {name: current[name] for name in regions})


def base_weights(regions: Sequence[str], active: str, policy: Policy) -> dict[str, int]:
    return {name: policy.full_weight if name == active else policy.standby_weight for name in regions}


def _observe(previous: RegionState, observation: Observation, policy: Policy) -> RegionState:
    failures = 0 if observation.ok else previous.failures + 1
    health = score(observation, failures, policy.thresholds)
    healthy_checks = previous.healthy_checks + 1 if health is Health.HEALTHY else 0
    if health is Health.UNHEALTHY:
        level = Level.OUT
    elif health is Health.DEGRADED:
        level = max(previous.level, Level.DRAINED)
    else:
        level = Level.IN if healthy_checks >= policy.failback_checks else previous.level
    return RegionState(failures, healthy_checks, level, health, observation.latency_ms)


def _best(candidates: Sequence[str], regions: Mapping[str, RegionState], weights: Mapping[str, int]) -> str | None:
    """The healthiest (lowest level, then score) and fastest candidate; among equals the one already carrying the
    most weight (so a choice does not flap with latency noise), then the configured order."""
    order = list(regions)

    def key(name: str) -> tuple[int, int, float, int, int]:
        state = regions[name]
        latency = state.latency_ms if state.latency_ms is not None else math.inf
        return (state.level, RANK[state.health], latency, -weights.get(name, 0), order.index(name))

    return min(candidates, key=key, default=None)


def _sticky_best(
    candidates: Sequence[str], regions: Mapping[str, RegionState], weights: Mapping[str, int]
) -> str | None:
    """For the drain's spill-over: keep the region that already takes it while it is still a candidate."""
    holding = [name for name in candidates if weights.get(name, 0) > 0]
    return _best(holding, regions, weights) or _best(candidates, regions, weights)


def _weights(
    active: str, regions: Mapping[str, RegionState], previous: Mapping[str, int], policy: Policy
) -> dict[str, int]:
    weights = base_weights(list(regions), active, policy)
    for name, state in regions.items():
        if name == active:
            continue
        if state.level is Level.OUT:
            weights[name] = 0
        elif state.level is Level.DRAINED:
            weights[name] = min(weights[name], policy.drain_weight)
    if regions[active].level is Level.DRAINED:
        spill = _sticky_best([n for n, s in regions.items() if n != active and s.level is Level.IN], regions, previous)
        if spill is not None:
            weights[active] = policy.drain_weight
            weights[spill] = max(weights[spill], policy.full_weight - policy.drain_weight)
    return weights


def _describe(name: str, state: RegionState) -> str:
    latency = "no answer" if state.latency_ms is None else f"{state.latency_ms:.0f} ms"
    return f"{name} {state.health.value} ({latency}, {state.failures} consecutive failed checks)"


def step(state: State, observations: Mapping[str, Observation], policy: Policy) -> tuple[State, list[Decision]]:
    """Score one round of checks (a region missing from `observations` counts as a failed check) and decide."""
    missing = Observation(ok=False, detail="not checked")
    regions = {name: _observe(prev, observations.get(name, missing), policy) for name, prev in state.regions.items()}
    decisions: list[Decision] = []
    active = state.active
    if active != state.primary and regions[state.primary].level is Level.IN:
        why = f"{state.primary} healthy for {regions[state.primary].healthy_checks} consecutive checks"
        decisions.append(Decision("failback", active, state.primary, why))
        active = state.primary
    elif regions[active].level is Level.OUT:
        answering = [n for n, s in regions.items() if n != active and s.health is not Health.UNHEALTHY]
        target = _best(answering, regions, {})
        if target is not None:
            why = f"{_describe(active, regions[active])}; {_describe(target, regions[target])}"
            decisions.append(Decision("failover", active, target, why))
            active = target
    weights = _weights(active, regions, state.weights, policy)
    if not decisions:
        for name, now in regions.items():
            before, old_weight = state.regions[name], state.weights.get(name, 0)
            if weights[name] == old_weight:
                continue
            if now.level > before.level and weights[name] < old_weight:
                gained = [n for n in regions if weights[n] > state.weights.get(n, 0)]
                decisions.append(Decision("drain", name, gained[0] if gained else None, _describe(name, now)))
            elif now.level < before.level:
                why = f"{name} healthy for {now.healthy_checks} consecutive checks"
                decisions.append(Decision("restore", name, None, why))
    return replace(state, active=active, regions=regions, weights=weights), decisions
