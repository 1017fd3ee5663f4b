"""What every long-running consumer does around `common.bus.pull_forever`: retry its start-up until the bus
answers (the bus may start after it), and restart its pull loop after a failure, with growing pauses, until it is
asked to stop. dbapp's consumer and the retraining dispatcher both run this way."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from common import bus
from common.backoff import Backoff
from common.pull_loop import Handler

log = logging.getLogger("common.consumer")


def restart_backoff() -> Backoff:
    """Pauses between attempts to create the subscriptions or to restart a failed pull loop."""
    return Backoff(initial=1.0, maximum=60.0)


def retry_until_stopped(what: str, action: Callable[[], None], stop: threading.Event) -> bool:
    """Run `action` until it succeeds or `stop` is set; True if it succeeded."""
    backoff = restart_backoff()
    while not stop.is_set():
        try:
            action()
            return True
        except Exception as exc:
            delay = backoff.next_delay()
            log.warning(f"{what} failed; retrying in {delay:g} s", extra={"reason": str(exc)})
            stop.wait(delay)
    return False


def pull_until_stopped(
    project: str, subscription: str, handler: Handler, stop: threading.Event, **options: Any
) -> None:
    """`bus.pull_forever(project, subscription, handler, stop, **options)`, restarted after a failure."""
    backoff = restart_backoff()
    while not stop.is_set():
        started = time.monotonic()
        try:
            bus.pull_forever(project, subscription, handler, stop, **options)
        except Exception:
            if time.monotonic() - started > backoff.maximum:
                backoff.reset()  # it ran a while: this is a new failure, not the same one again
            delay = backoff.next_delay()
            log.exception(f"pull loop failed; restarting in {delay:g} s", extra={"subscription": subscription})
            stop.wait(delay)
