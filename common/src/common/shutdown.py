"""How every long-running process of the platform learns it must stop: SIGTERM (Kubernetes, `make up`) or SIGINT
(Ctrl-C) sets one event that its loops wait on."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType


def stop_on_signals(log: logging.Logger, message: str = "stopping") -> threading.Event:
    """An event set by SIGTERM or SIGINT (each logged with `message` and the signal's name)."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info(message, extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop
