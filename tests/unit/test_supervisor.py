"""`make up`'s supervision: a component that exits is restarted after a growing back-off, the others untouched."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from local_platform.processes import Child
from local_platform.supervisor import MAX_DELAY, STABLE_AFTER, Supervisor, backoff


@dataclass
class FakeChild:
    name: str
    running: bool = True
    starts: int = 0
    groups_killed: int = 0
    process: None = None
    lines: list[str] = field(default_factory=list)

    def kill_group(self) -> None:
        self.groups_killed += 1

    def start(self) -> FakeChild:
        self.starts += 1
        self.running = True
        return self

    def tail(self) -> str:
        return "\n".join(self.lines)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_from_one_second_to_thirty() -> None:
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, MAX_DELAY]


def test_an_exited_component_is_restarted_after_its_backoff_and_the_others_are_left_alone() -> None:
    clock, dbapp, webapp = Clock(), FakeChild("dbapp"), FakeChild("webapp")
    supervisor = Supervisor([dbapp, webapp], clock=clock)  # type: ignore[list-item]
    supervisor.tick()
    dbapp.running = False
    supervisor.tick()  # noticed: restart due in 1 s
    assert dbapp.starts == 0
    clock.now += 1.0
    supervisor.tick()
    assert (dbapp.starts, webapp.starts) == (1, 0)
    assert (dbapp.groups_killed, webapp.groups_killed) == (1, 0)  # its leftovers killed once, before the restart
    assert supervisor.restarts() == {"dbapp": 1, "webapp": 0}


def test_quick_crashes_back_off_longer_and_a_stable_run_resets_the_backoff() -> None:
    clock, child = Clock(), FakeChild("consumer")
    supervisor = Supervisor([child], clock=clock)  # type: ignore[list-item]
    waits = []
    for _ in range(3):
        child.running = False
        supervisor.tick()
        started = clock.now
        while child.starts == len(waits):
            clock.now += 0.5
            supervisor.tick()
        waits.append(clock.now - started)
    assert waits == [1.0, 2.0, 4.0]
    clock.now += STABLE_AFTER
    supervisor.tick()  # ran for a minute: the next crash waits 1 s again
    child.running = False
    supervisor.tick()
    clock.now += 1.0
    supervisor.tick()
    assert child.starts == 4


def test_what_follows_a_restart_runs_and_its_failure_does_not_stop_supervision() -> None:
    clock, bus = Clock(), FakeChild("pubsub")
    calls = []

    def recreate_topics() -> None:
        calls.append("topics")
        raise RuntimeError("emulator not listening yet")

    supervisor = Supervisor([bus], after_restart={"pubsub": recreate_topics}, clock=clock)  # type: ignore[list-item]
    bus.running = False
    supervisor.tick()
    clock.now += 1.0
    supervisor.tick()
    assert (bus.starts, calls) == (1, ["topics"])


def test_killing_a_group_takes_the_processes_its_dead_leader_left_behind(tmp_path: Path) -> None:
    pid_file = tmp_path / "orphan.pid"
    script = f"sleep 300 & echo $! > {pid_file}; exec sleep 300"
    child = Child("server", ["sh", "-c", script], log_path=tmp_path / "log")
    child.start()
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the child did not start its background process"
        time.sleep(0.05)
    orphan = int(pid_file.read_text())
    assert child.process is not None
    os.kill(child.process.pid, signal.SIGKILL)  # the main process dies (like `mlflow server` above its uvicorn)
    child.wait(timeout=10)
    assert Path(f"/proc/{orphan}").exists(), "the background process outlives its leader"
    child.kill_group()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{orphan}").exists() and "Z" not in Path(f"/proc/{orphan}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the leftover process survived kill_group"
        time.sleep(0.05)
