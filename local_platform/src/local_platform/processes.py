"""Child processes for the local platform and the test fixtures: start in their own process group, stream
their output (prefixed lines on stdout, or a log file), wait until ready, stop the whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, cast

import requests

from common.shutdown import DIE_WITH_PARENT

COLOURS = ("\033[36m", "\033[32m", "\033[35m", "\033[33m", "\033[34m", "\033[31m")
RESET = "\033[0m"
LOG_VARIABLES = ("LOG_FORMAT", "LOG_COLOR", "NO_COLOR")  # how a component writes its lines (common.jsonlog)
# A platform stops stage after stage, each stage's components together (named without a region's prefix): first
# every component not named here (webapp stops accepting events; mlapp, the dispatcher, monitoring), then dbapp's
# consumer, which drains its subscriptions, then what the others wrote to, the bus last.
LATER_STOP_STAGES = (frozenset({"consumer"}), frozenset({"dbapp", "mlflow"}), frozenset({"pubsub"}))


def terminal_log_env(environ: Mapping[str, str], on_terminal: bool) -> dict[str, str]:
    """What the launcher adds to its environment so that the components it starts write for its terminal.

    A child's stdout is a pipe into the launcher, so left to `auto` it would write JSON even when the launcher's
    output is a person's terminal: there the launcher asks for text and colour, unless the person chose
    LOG_FORMAT or LOG_COLOR themselves. Off a terminal (CI, a file, the e2e tests) nothing is added: JSON."""
    if not on_terminal:
        return {}
    unset = {name for name in ("LOG_FORMAT", "LOG_COLOR") if (environ.get(name) or "auto").lower() == "auto"}
    return {name: value for name, value in (("LOG_FORMAT", "text"), ("LOG_COLOR", "always")) if name in unset}


class NotReady(RuntimeError):
    """A child did not become ready in time; the message names it and ends with its last output."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    return check


class Child:
    """One managed process. Output goes to `log_path` if given, else to stdout prefixed with the name."""

    _colour_index = 0

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        own_session: bool = True,
        stop_grace: float = 10.0,
    ):
        """`own_session=False` keeps the child in the caller's process group, so a Ctrl-C or a SIGTERM sent to
        the group reaches it directly (used for the one-shot pipeline jobs). `stop_grace`: seconds between SIGTERM
        and SIGKILL when it is stopped (longer for a component that drains work first)."""
        self.name = name
        self.own_session = own_session
        self.stop_grace = stop_grace
        self.cmd = list(cmd)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._tail: list[str] = []
        self._pump: threading.Thread | None = None
        self._colour = COLOURS[Child._colour_index % len(COLOURS)]
        Child._colour_index += 1

    def start(self) -> Child:
        self.process = subprocess.Popen(
            [*DIE_WITH_PARENT, *self.cmd],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=self.own_session,
        )
        sink: IO[str] = open(self.log_path, "a") if self.log_path else sys.stdout  # noqa: SIM115
        self._pump = threading.Thread(target=self._copy_output, args=(sink,), daemon=True)
        self._pump.start()
        return self

    def _copy_output(self, sink: IO[str]) -> None:
        assert self.process and self.process.stdout
        prefix = "" if self.log_path else f"{self._colour}{self.name:>10} |{RESET} "
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self._tail = [*self._tail[-39:], line]
            sink.write(f"{prefix}{line}\n")
            sink.flush()
        if self.log_path:
            sink.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self) -> str:
        return "\n".join(self._tail)

    def wait_ready(self, check: Callable[[], bool], timeout: float = 60.0) -> Child:
        if self.process is None:
            raise RuntimeError(f"{self.name} must be started before waiting for it to be ready")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise NotReady(f"{self.name} exited with code {self.process.returncode}:\n{self.tail()}")
            if check():
                return self
            time.sleep(0.2)
        raise NotReady(f"{self.name} was not ready after {timeout:.0f} s:\n{self.tail()}")

    def wait(self, timeout: float | None = None) -> int:
        assert self.process
        code = self.process.wait(timeout=timeout)
        if self._pump:
            self._pump.join(timeout=5)
        return code

    def kill_group(self) -> None:
        """SIGKILL whatever is left of the child's process group (its own session), as a container runtime kills
        every process of a container whose main process died: `mlflow server`'s uvicorn, say, would otherwise
        outlive it and keep the port its restart needs."""
        if self.own_session and self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM to the child's process group, SIGKILL after `grace` seconds (default: its `stop_grace`)."""
        grace = self.stop_grace if grace is None else grace
        if not self.process or self.process.poll() is not None:
            return
        if not self.own_session:
            self.process.terminate()
            self.process.wait(timeout=grace)
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        if self._pump:
            self._pump.join(timeout=5)


def stop_in_stages(children: Sequence[Child]) -> None:
    """Stop `children` in the order of LATER_STOP_STAGES, the components of one stage in parallel: a stop waits
    up to the component's grace, and one after another they added up to ~20 s for every `make up` stop."""
    later = frozenset().union(*LATER_STOP_STAGES)

    def component(child: Child) -> str:
        return child.name.rsplit("/", 1)[-1]

    stages = [[c for c in children if component(c) not in later]]
    stages += [[c for c in children if component(c) in names] for names in LATER_STOP_STAGES]
    for stage in stages:
        run_together([child.stop for child in stage])


def run_together(calls: Sequence[Callable[[], None]]) -> None:
    """Run `calls` in parallel threads and wait for all; the first exception raised is raised again."""
    if not calls:
        return
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="together") as pool:
        for done in [pool.submit(call) for call in calls]:
            done.result()
