"""Shared gunicorn settings: values from the environment, and the metrics folder created before workers start."""

import importlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.delenv("READ_ONLY_PORT", raising=False)
    conf = importlib.reload(importlib.import_module("common.gunicorn_conf"))
    assert conf.bind == ["0.0.0.0:9123"]
    assert conf.workers == 3
    assert conf.control_socket_disable is True
    monkeypatch.setenv("READ_ONLY_PORT", "9124")
    assert importlib.reload(importlib.import_module("common.gunicorn_conf")).bind == ["0.0.0.0:9123", "0.0.0.0:9124"]


def test_on_starting_creates_the_multiprocess_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "emptydir" / "prometheus"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    conf = importlib.import_module("common.gunicorn_conf")
    conf.on_starting(server=None)
    assert folder.is_dir()


def test_a_worker_is_set_to_die_with_its_master() -> None:
    probe = (
        "import ctypes, common.gunicorn_conf as conf\n"
        "conf.post_fork(None, None)\n"
        "signal = ctypes.c_int()\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(signal))  # PR_GET_PDEATHSIG\n"
        "print(signal.value)\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == str(int(signal.SIGKILL))
