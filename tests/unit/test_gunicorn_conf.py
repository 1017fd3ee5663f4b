"""Shared gunicorn settings: values from the environment, and the metrics folder created before workers start."""

import importlib
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
