"""The dispatcher as `make up` runs it (local mode, a real process, the Pub/Sub emulator): at start it trains every
family on the latest version; each committed version then starts each family's training exactly once, however
often its event is delivered; a run the dispatcher was stopped during is run again at the next start."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from common.bus import Publisher
from common.events import Event
from dispatcher.local_trainers import LocalLauncher
from local_platform.processes import Child, free_port, http_ok

pytestmark = pytest.mark.integration
FAKE_TRAINER = """import sys, time
with open(sys.argv[1], "a") as runs:
    runs.write(" ".join(sys.argv[2:]) + "\\n")
time.sleep(0.2)
"""


def version_event(version: int) -> Event:
    data = {"version": version, "rows": {"train": 800, "valid": 200}, "manifest": f"file:///v{version}/manifest.json"}
    return Event(type="dataset.version.committed", data=data)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"not within {timeout:.0f} s: {what}")


def fake_trainer(tmp_path: Path) -> tuple[Path, str]:
    script, runs = tmp_path / "fake_train.py", tmp_path / "runs.txt"
    script.write_text(FAKE_TRAINER)
    return runs, f"{sys.executable} {script} {runs}"


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_each_version_trains_each_family_once_however_often_it_is_delivered(
    pubsub_emulator: str, tmp_path: Path, logs_dir: Path
) -> None:
    runs, command = fake_trainer(tmp_path)
    port, project = free_port(), f"dispatch-{uuid.uuid4().hex[:8]}"
    env = {
        "GCP_PROJECT": project,
        "PUBSUB_EMULATOR_HOST": pubsub_emulator,
        "PLATFORM_DATA_DIR": str(tmp_path / "data"),
        "TRAINING_FAMILIES": "alpha,beta",
        "DISPATCH_TRAINER_COMMAND": command,
        "DISPATCHER_PORT": str(port),
    }
    dispatcher = str(Path(sys.executable).with_name("dispatcher"))
    child = Child("dispatcher", [dispatcher], env=env, log_path=logs_dir / "dispatcher.log").start()
    try:
        child.wait_ready(http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=90)  # 503 until it pulls
        wait_for(lambda: len(lines(runs)) == 2, 60, "the start-up runs of alpha and beta")
        publisher = Publisher(project)
        for event in (version_event(1), version_event(1), version_event(2), version_event(1)):
            publisher.publish(event)  # version 1 three times, as three deliveries with their own event ids
        wait_for(lambda: len(lines(runs)) == 6, 60, "one run per family and version")
        time.sleep(3)  # anything else would have started by now
        assert lines(runs) == ["--family alpha", "--family beta"] * 3
        state = tmp_path / "data" / "dispatcher"
        claims = {p.relative_to(state).as_posix(): json.loads(p.read_text()) for p in state.glob("*/*.json")}
        assert sorted(claims) == ["alpha/v1.json", "alpha/v2.json", "beta/v1.json", "beta/v2.json"]
        assert {claim["exit_code"] for claim in claims.values()} == {0}
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'dispatcher_dispatches_total{family="alpha",outcome="duplicate"} 2.0' in metrics
        assert 'dispatcher_dispatches_total{family="beta",outcome="started"} 2.0' in metrics
        assert "dispatcher_last_dataset_version 2.0" in metrics
    finally:
        child.stop()
    assert child.process is not None and child.process.returncode == 0, child.tail()


def test_a_run_interrupted_by_a_stop_runs_again_at_the_next_start(tmp_path: Path) -> None:
    runs, command = fake_trainer(tmp_path)
    state = tmp_path / "claims"
    first = LocalLauncher(state, command.split()).start()
    assert first.launch("alpha", 5).value == "started"
    assert first.wait_idle(30)
    (state / "beta").mkdir()
    (state / "beta" / "v5.json").write_text(json.dumps({"family": "beta", "dataset_version": 5, "exit_code": None}))
    first.close()
    assert lines(runs) == ["--family alpha"]

    again = LocalLauncher(state, command.split()).start()
    try:
        assert again.wait_idle(30)
        assert lines(runs) == ["--family alpha", "--family beta"]
        assert again.launch("alpha", 5).value == "duplicate"
        assert json.loads((state / "beta" / "v5.json").read_text())["exit_code"] == 0
    finally:
        again.close()
