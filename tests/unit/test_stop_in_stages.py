"""A platform stops stage by stage, the components of one stage together (local_platform.processes)."""

from __future__ import annotations

import threading
from typing import cast

from local_platform.processes import Child, stop_in_stages


class FakeChild:
    def __init__(self, name: str, log: list[str], barrier: threading.Barrier | None = None) -> None:
        self.name, self._log, self._barrier = name, log, barrier

    def stop(self) -> None:
        if self._barrier:
            self._barrier.wait()  # breaks (timeout) unless every component of the stage is stopping at once
        self._log.append(self.name)


def test_producers_stop_together_before_the_consumer_and_the_bus_stops_last() -> None:
    log: list[str] = []
    first = threading.Barrier(4, timeout=5)
    names = ["pubsub", "mlflow", "dbapp", "consumer", "mlapp", "webapp", "dispatcher", "prometheus"]
    children = [FakeChild(name, log, first if name in {"mlapp", "webapp", "dispatcher", "prometheus"} else None)
                for name in names]  # fmt: skip
    stop_in_stages(cast(list[Child], children))
    assert set(log[:4]) == {"mlapp", "webapp", "dispatcher", "prometheus"}
    assert log[4] == "consumer"
    assert set(log[5:7]) == {"dbapp", "mlflow"}
    assert log[7] == "pubsub"


def test_a_regions_prefix_does_not_change_the_stage() -> None:
    log: list[str] = []
    children = [FakeChild(name, log) for name in ["region-a/pubsub", "region-a/consumer", "region-a/webapp"]]
    stop_in_stages(cast(list[Child], children))
    assert log == ["region-a/webapp", "region-a/consumer", "region-a/pubsub"]
