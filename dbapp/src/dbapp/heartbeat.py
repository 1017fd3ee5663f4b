"""The consumer's signal for its Kubernetes probes: it serves no port, so while every pull thread runs it touches
`$CONSUMER_STATE_DIR/heartbeat` each second; readiness wants that file under 30 s old, liveness under 60 s."""

from __future__ import annotations

import threading
from pathlib import Path


class Heartbeat:
    def __init__(self, folder: Path | None) -> None:
        """`folder` None (CONSUMER_STATE_DIR unset, as under `make up`): nothing is written."""
        self.path = folder / "heartbeat" if folder else None
        if folder:
            folder.mkdir(parents=True, exist_ok=True)

    def beat_if_alive(self, threads: list[threading.Thread]) -> bool:
        """Touch the file when there are pull threads and every one is alive (a dead one means the consumer is
        stuck: they restart themselves after errors). True if it did."""
        alive = bool(threads) and all(thread.is_alive() for thread in threads)
        if alive and self.path:
            self.path.touch()
        return alive
