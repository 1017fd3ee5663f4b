"""Trainers as child processes of this machine (`make up`), one at a time: two trainings at once on a laptop
would only slow each other down.

A (family, dataset version) is claimed by creating its claim file exclusively (`O_EXCL`), before the run is
queued, so a redelivered event finds the claim and starts nothing. The claim records the run's exit code when
it ends; a claim without one (the dispatcher stopped while it waited or ran) is queued again at the next start.
A repeated run is harmless: the trainer itself trains nothing for a (family, version) it has a finished run for.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import Gauge

from common.shutdown import DIE_WITH_PARENT
from dispatcher.outcome import DispatchFailed, Outcome

log = logging.getLogger("dispatcher.local")
PENDING = Gauge("dispatcher_pending_runs", "Training runs queued or running on this machine (local mode)")
STOP_GRACE_SECONDS = 30.0
Run = tuple[str, int | None]  # (family, dataset version); None: whatever version is the latest


class LocalLauncher:
    def __init__(self, state_dir: Path, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.state_dir, self.command, self.env = state_dir, tuple(command), env
        self._queue: queue.Queue[Run | None] = queue.Queue()
        self._current: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="trainer-runs", daemon=True)
        self.finished: list[tuple[Run, int]] = []  # (run, exit code), in the order they ended
        PENDING.set_function(lambda: self._queue.unfinished_tasks)

    def _claim_path(self, family: str, dataset_version: int) -> Path:
        return self.state_dir / family / f"v{dataset_version}.json"

    def start(self, catch_up: Sequence[str] = ()) -> LocalLauncher:
        """Start the run queue: first the unfinished claims of an earlier start, then a run of each `catch_up`
        family on the latest version (it trains only what was never trained)."""
        for path in sorted(self.state_dir.glob("*/v*.json")):
            if json.loads(path.read_text() or "{}").get("exit_code") is None:
                self._queue.put((path.parent.name, int(path.stem[1:])))
        for family in catch_up:
            self._queue.put((family, None))
        self._worker.start()
        return self

    def launch(self, family: str, dataset_version: int) -> Outcome:
        path = self._claim_path(family, dataset_version)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return Outcome.DUPLICATE
        except OSError as exc:
            raise DispatchFailed(f"cannot write the claim {path}: {exc}") from exc
        with os.fdopen(fd, "w") as claim:
            json.dump({"family": family, "dataset_version": dataset_version, "exit_code": None}, claim)
            claim.flush()
            os.fsync(claim.fileno())
        self._queue.put((family, dataset_version))
        log.info("training queued", extra={"family": family, "dataset_version": dataset_version})
        return Outcome.STARTED

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued run has ended (tests and `make up`'s shutdown use it)."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def _work(self) -> None:
        while True:
            run = self._queue.get()
            try:
                if run is None:
                    return
                self._run(run)
            finally:
                self._queue.task_done()

    def _run(self, run: Run) -> None:
        family, version = run
        if self._stopping.is_set():
            return
        what = {"family": family, "dataset_version": version}
        log.info("training starts", extra=what)
        self._current = subprocess.Popen([*DIE_WITH_PARENT, *self.command, "--family", family], env=self.env)
        code = self._current.wait()
        self._current = None
        if self._stopping.is_set():
            return  # stopped by us: the claim stays open and is queued again at the next start
        self.finished.append((run, code))
        if version is not None:
            path = self._claim_path(family, version)
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps({"family": family, "dataset_version": version, "exit_code": code}))
            os.replace(partial, path)  # the claim is never seen half-written
        level = logging.INFO if code == 0 else logging.ERROR
        log.log(level, f"training of {family} ended with exit code {code}", extra={**what, "exit_code": code})

    def close(self) -> None:
        """Stop the running trainer (SIGTERM, then SIGKILL after a grace period) and the queue."""
        self._stopping.set()
        self._queue.put(None)
        current = self._current
        if current is not None and current.poll() is None:
            current.terminate()
            try:
                current.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                current.kill()
        self._worker.join(timeout=STOP_GRACE_SECONDS + 5)
