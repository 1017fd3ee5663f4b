"""What starting one family's training for one dataset version came to."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    STARTED = "started"  # a run was started (or queued) for this (family, dataset version)
    DUPLICATE = "duplicate"  # one already was: the event was delivered again
    FAILED = "failed"  # it could not be started; the event is redelivered


class DispatchFailed(RuntimeError):
    """Starting a run failed for a reason that may pass (the API server, the disk); the message says which."""


class Launcher(Protocol):
    def launch(self, family: str, dataset_version: int) -> Outcome:
        """Start `family`'s training for `dataset_version` unless one was already started; raises `DispatchFailed`."""

    def close(self) -> None:
        """Release what the launcher holds (connections, child processes)."""
