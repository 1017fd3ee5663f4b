"""What one trainer run works on, and the fields every log entry about it carries."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    """A family trained for a registered model on a dataset version (the newest committed one)."""

    family: str
    model_name: str
    dataset_version: int

    def extra(self, **more: Any) -> dict[str, Any]:
        """Log fields: the job's own, then `more`."""
        return {
            "family": self.family,
            "model_name": self.model_name,
            "dataset_version": self.dataset_version,
            **more,
        }


def seconds_since(started: float) -> float:
    """Seconds since `started` (a `time.monotonic()` reading), as the log entries show them."""
    return round(time.monotonic() - started, 3)
