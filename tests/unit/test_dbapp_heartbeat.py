"""The consumer's heartbeat file, which its Kubernetes probes read: touched only while every pull thread runs."""

from __future__ import annotations

import threading
from pathlib import Path

from dbapp.config import DbappConfig
from dbapp.heartbeat import Heartbeat


def _thread(alive: bool) -> threading.Thread:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    if not alive:
        stop.set()
        thread.join()
    return thread


def test_beats_while_every_pull_thread_runs(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path / "state")
    assert heartbeat.beat_if_alive([_thread(True), _thread(True)])
    assert (tmp_path / "state" / "heartbeat").exists()


def test_a_dead_thread_or_none_started_stops_the_beat(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path)
    assert not heartbeat.beat_if_alive([_thread(True), _thread(False)])
    assert not heartbeat.beat_if_alive([])
    assert not (tmp_path / "heartbeat").exists()


def test_without_a_state_folder_nothing_is_written(tmp_path: Path) -> None:
    assert Heartbeat(None).beat_if_alive([_thread(True)])
    assert list(tmp_path.iterdir()) == []


def test_the_folder_comes_from_consumer_state_dir() -> None:
    env = {"GCP_PROJECT": "p", "CONSUMER_STATE_DIR": "/tmp/consumer"}
    assert DbappConfig.from_env(env).consumer_state_dir == Path("/tmp/consumer")
    assert DbappConfig.from_env({"GCP_PROJECT": "p"}).consumer_state_dir is None
