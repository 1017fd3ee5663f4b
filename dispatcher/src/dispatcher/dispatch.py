"""The event handler: a committed dataset version starts every configured family's training once."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge

from common.contracts.base import InputInvalid, parse
from common.contracts.events import DatasetVersionCommitted
from common.dead_letters import Poison
from common.events import Event
from dispatcher.outcome import DispatchFailed, Launcher, Outcome

log = logging.getLogger("dispatcher")

DISPATCHES = Counter(
    "dispatcher_dispatches_total",
    "Training runs asked for, by family and outcome (started, duplicate: already started for that dataset "
    "version, failed: will be retried when the event is redelivered)",
    ["family", "outcome"],
)
LAST_VERSION = Gauge("dispatcher_last_dataset_version", "The latest dataset version whose training was dispatched")
EVENT_TYPE = "dataset.version.committed"


class Dispatcher:
    def __init__(self, launcher: Launcher, families: tuple[str, ...]) -> None:
        self.launcher, self.families = launcher, families
        self.last_version = 0
        for family in families:
            for outcome in Outcome:
                DISPATCHES.labels(family, outcome.value)

    def __call__(self, event: Event) -> None:
        self.handle(event)

    def handle(self, event: Event) -> dict[str, Outcome]:
        """Start each family's run for the event's version. Raises `Poison` for an event that is not a dataset
        version, and `DispatchFailed` when any family could not be started: the event is then redelivered, and
        the families already started answer duplicate."""
        if event.type != EVENT_TYPE:
            raise Poison("unknown-type", f"event type {event.type!r} is not a dataset version", event.type)
        try:
            data = parse(DatasetVersionCommitted, event.data)
        except InputInvalid as exc:
            raise Poison("invalid-data", f"invalid data: {exc}", event.type) from None
        outcomes: dict[str, Outcome] = {}
        failures: list[str] = []
        for family in self.families:
            try:
                outcomes[family] = self.launcher.launch(family, data.version)
            except DispatchFailed as exc:
                outcomes[family] = Outcome.FAILED
                failures.append(f"{family}: {exc}")
            DISPATCHES.labels(family, outcomes[family].value).inc()
        extra = {"event_id": event.event_id, "dataset_version": data.version}
        extra.update({family: outcome.value for family, outcome in outcomes.items()})
        if failures:
            log.error("some trainings could not be started; the event will be redelivered", extra=extra)
            raise DispatchFailed("; ".join(failures))
        self.last_version = max(self.last_version, data.version)
        LAST_VERSION.set(self.last_version)
        log.info(f"dataset version {data.version} dispatched", extra=extra)
        return outcomes
