"""Exponential backoff: how long to wait before the next attempt after consecutive failures.

The waiting itself is the caller's (usually `threading.Event.wait`, so that a stop request ends it at once), which
keeps this a pure calculation that tests drive without a clock.
"""

from __future__ import annotations


class Backoff:
    """Delays of `initial`, then doubled (times `factor`) after every failure, at most `maximum`; `reset()` after
    a success starts again from `initial`."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0, factor: float = 2.0) -> None:
        if not 0 < initial <= maximum or factor < 1:
            raise ValueError(f"need 0 < initial <= maximum and factor >= 1, got {initial}, {maximum}, {factor}")
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial

    def next_delay(self) -> float:
        """The delay to wait now; the one after it is longer (up to `maximum`)."""
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial
