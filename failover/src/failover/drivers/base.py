"""The driver interface: set each region's traffic weight, read the weights in force. Weights are relative shares
(a region at 0 gets no new requests); every driver takes the controller's whole map at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class DriverError(RuntimeError):
    """The load balancer could not be read or changed (unreachable, refused, or not set up as expected)."""


@dataclass(frozen=True)
class TrafficCount:
    """Cumulative counters of the requests a region's server answered, as the load balancer saw them."""

    requests: int
    errors: int


class Driver(Protocol):
    def set_weights(self, weights: Mapping[str, int]) -> None: ...

    def current_weights(self) -> dict[str, int]: ...

    def close(self) -> None: ...


@runtime_checkable
class TrafficSource(Protocol):
    """A driver that can also count each region's requests (HAProxy): the request and error rates then come from
    it when no Prometheus is configured."""

    def traffic(self) -> dict[str, TrafficCount]: ...


class RecordingDriver:
    """`FAILOVER_DRIVER=none`: moves nothing, remembers the weights it was given (a dry run, and the tests')."""

    def __init__(self, regions: list[str]) -> None:
        self.weights: dict[str, int] = dict.fromkeys(regions, 0)
        self.calls: list[dict[str, int]] = []

    def set_weights(self, weights: Mapping[str, int]) -> None:
        self.weights = dict(weights)
        self.calls.append(dict(weights))

    def current_weights(self) -> dict[str, int]:
        return dict(self.weights)

    def close(self) -> None:
        """Nothing to release."""
