"""`make up` supervises its components as Kubernetes does its containers: one that exits is restarted after a
back-off (1 s doubling to 30 s, as CrashLoopBackOff; reset once it has run for a minute), logged with its count,
while every other component keeps running. What is left of an exited component's process group is killed first,
as a container runtime does, so no orphan keeps serving or holding the port."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from local_platform.processes import Child

log = logging.getLogger("platform")

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_AFTER = 60.0  # seconds of running after which a component's back-off starts again from FIRST_DELAY


def backoff(failures: int) -> float:
    """Seconds to wait before the restart that follows `failures` consecutive quick exits (1, 2, 4, ... 30)."""
    return min(MAX_DELAY, FIRST_DELAY * 2.0 ** max(0, failures - 1))


@dataclass
class Watch:
    child: Child
    started_at: float
    failures: int = 0  # consecutive exits within STABLE_AFTER of starting
    restarts: int = 0  # every restart since `make up` began
    restart_at: float | None = None


@dataclass
class Supervisor:
    """`after_restart` maps a component name to what must follow its restart (topics for a fresh emulator)."""

    children: list[Child]
    after_restart: dict[str, Callable[[], None]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _watches: dict[int, Watch] = field(default_factory=dict)

    def _watch(self, child: Child) -> Watch:
        key = id(child)
        if key not in self._watches:
            self._watches[key] = Watch(child, started_at=self.clock())
        return self._watches[key]

    def tick(self) -> None:
        """Notice exits and run the restarts that are due; called about once a second."""
        now = self.clock()
        for child in list(self.children):
            watch = self._watch(child)
            if child.running:
                if now - watch.started_at >= STABLE_AFTER:
                    watch.failures = 0
                continue
            if watch.restart_at is None:
                child.kill_group()  # the main process died: none of its processes may keep serving
                watch.failures += 1
                delay = backoff(watch.failures)
                watch.restart_at = now + delay
                code = child.process.returncode if child.process else None
                log.error(
                    f"{child.name} exited (code {code}); restarting it in {delay:.0f} s:\n{child.tail()}",
                    extra={"component": child.name, "exit_code": code, "restarts": watch.restarts},
                )
            elif now >= watch.restart_at:
                self._restart(watch, now)

    def _restart(self, watch: Watch, now: float) -> None:
        watch.restarts += 1
        watch.restart_at = None
        watch.started_at = now
        watch.child.start()
        log.warning(
            f"{watch.child.name} restarted (restart {watch.restarts})",
            extra={"component": watch.child.name, "restarts": watch.restarts},
        )
        follow_up = self.after_restart.get(watch.child.name)
        if follow_up:
            try:
                follow_up()
            except Exception as exc:  # the next tick restarts it again if it died; the cause is logged here
                log.error(f"after restarting {watch.child.name}: {exc}", extra={"component": watch.child.name})

    def restarts(self) -> dict[str, int]:
        return {watch.child.name: watch.restarts for watch in self._watches.values()}
