"""One round of the controller: check every region, read the rates, decide (`failover.decisions`), log and publish
each decision, make the load balancer hold the decided weights, export the metrics.

The load balancer is reconciled every round, not only when a decision changes the weights: a load balancer that
restarted with its configured weights, or a round whose change failed, is corrected at the next round. Publishing
is best effort: a decision is logged and applied whether or not the bus takes its event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from common.contracts.events import TrafficShifted
from common.events import Event
from failover import metrics
from failover.decisions import Decision, Policy, State, step
from failover.drivers.base import Driver, DriverError
from failover.latency import LatencyWindow
from failover.rates import Rates
from failover.scoring import STATUS_VALUE, Health, Observation

log = logging.getLogger("failover")


class Checker(Protocol):
    def check(self) -> dict[str, Observation]: ...


class RateReader(Protocol):
    def read(self) -> Rates: ...


class Controller:
    def __init__(
        self,
        regions: list[str],
        primary: str,
        policy: Policy,
        checker: Checker,
        driver: Driver,
        *,
        rates: RateReader | None = None,
        publish: Callable[[Event], None] | None = None,
        latency_window: int = 30,
    ) -> None:
        self.regions, self.primary, self.policy = regions, primary, policy
        self.checker, self.driver, self.rates, self.publish = checker, driver, rates, publish
        self.windows = {name: LatencyWindow(latency_window) for name in regions}
        self.state = State.initial(regions, primary, policy)
        self.in_sync = False  # the load balancer held the decided weights at the end of the last round
        self._driver_failed = False  # the last attempt failed (logged once per outage)
        for source in regions:
            metrics.UNHEALTHY_EVENTS.labels(source)  # 0 from the start, as the failovers below
            for target in regions:
                if source != target:
                    metrics.FAILOVER_EVENTS.labels(source, target)  # 0 from the start, so increase() sees the first
        for action in ("drain", "restore", "failover", "failback"):
            metrics.DECISIONS.labels(action)

    def start(self) -> None:
        """Take over from the weights the load balancer holds now (a restarted controller keeps a failover)."""
        try:
            current = self.driver.current_weights()
        except DriverError as exc:
            log.warning("load balancer not readable at start: starting from the primary", extra={"error": str(exc)})
            return
        self.state = State.resume(self.regions, self.primary, self.policy, current)
        log.info("starting from the load balancer's weights", extra={"weights": current, "active": self.state.active})

    def tick(self) -> list[Decision]:
        rates = self.rates.read() if self.rates is not None else Rates()
        observations = {
            name: replace(observation, error_ratio=rates.error_ratio.get(name))
            for name, observation in self.checker.check().items()
        }
        previous = self.state
        self.state, decisions = step(previous, observations, self.policy)
        self._log_changes(previous, observations)
        for decision in decisions:
            self._announce(decision, previous)
        self._reconcile()
        self._export(observations, rates)
        return decisions

    def _log_changes(self, previous: State, observations: Mapping[str, Observation]) -> None:
        for name, now in self.state.regions.items():
            before = previous.regions[name]
            if now.health is Health.UNHEALTHY and before.health is not Health.UNHEALTHY:
                metrics.UNHEALTHY_EVENTS.labels(name).inc()
            if (now.health, now.level) != (before.health, before.level):
                log.info(
                    "region health changed",
                    extra={
                        "region": name,
                        "health": now.health.value,
                        "level": now.level.name.lower(),
                        "latency_ms": now.latency_ms,
                        "failed_checks": now.failures,
                        "detail": observations.get(name, Observation(ok=False)).detail,
                    },
                )

    def _announce(self, decision: Decision, previous: State) -> None:
        payload = TrafficShifted(
            action=decision.action,
            source_region=decision.source,
            target_region=decision.target,
            weights=dict(self.state.weights),
            previous_weights=dict(previous.weights),
            health={name: region.health.value for name, region in self.state.regions.items()},
            reason=decision.reason[:500],
        )
        level = logging.WARNING if decision.action == "failover" else logging.INFO
        log.log(level, "traffic %s", decision.action, extra=payload.model_dump(mode="json"))
        metrics.DECISIONS.labels(decision.action).inc()
        if decision.action in ("failover", "failback") and decision.target is not None:
            metrics.FAILOVER_EVENTS.labels(decision.source, decision.target).inc()
        if self.publish is not None:
            try:
                self.publish(Event(type="traffic.shifted", data=payload.model_dump(mode="json")))
            except Exception as exc:  # any bus fault: the decision stands, the event is lost
                log.error("decision event not published", extra={"error": str(exc)[:300], "action": decision.action})

    def _reconcile(self) -> None:
        wanted = dict(self.state.weights)
        try:
            held = self.driver.current_weights()
            if held != wanted:
                self.driver.set_weights(wanted)
                log.info("weights set", extra={"weights": wanted, "were": held})
        except DriverError as exc:
            metrics.DRIVER_ERRORS.inc()
            if not self._driver_failed:
                log.error("load balancer not reachable: weights not set", extra={"error": str(exc)[:300]})
            self.in_sync, self._driver_failed = False, True
            return
        if not self.in_sync:
            log.info("load balancer holds the decided weights", extra={"weights": wanted})
        self.in_sync, self._driver_failed = True, False
        for name, weight in wanted.items():
            metrics.TRAFFIC_WEIGHT.labels(name).set(weight)

    def _export(self, observations: Mapping[str, Observation], rates: Rates) -> None:
        for name, region in self.state.regions.items():
            metrics.REGION_HEALTH.labels(name).set(STATUS_VALUE[region.health])
            metrics.CONSECUTIVE_FAILURES.labels(name).set(region.failures)
            observation = observations.get(name)
            if observation is not None and observation.ok and observation.latency_ms is not None:
                self.windows[name].add(observation.latency_ms)
            for label, value in self.windows[name].percentiles().items():
                metrics.LATENCY.labels(name, label).set(value)
            if name in rates.request_rate:
                metrics.REQUEST_RATE.labels(name).set(rates.request_rate[name])
            if name in rates.error_ratio:
                metrics.ERROR_RATE.labels(name).set(rates.error_ratio[name])
