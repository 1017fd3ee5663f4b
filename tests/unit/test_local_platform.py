"""`make up` prerequisites and settings: a missing tool or a bad port stops it with a message naming it."""

from pathlib import Path

import pytest

from local_platform import components
from local_platform.stack import Ports


def test_missing_java_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(components.shutil, "which", lambda name: None)
    with pytest.raises(components.MissingPrerequisite, match="Java is not installed"):
        components.pubsub_emulator_command(8085, tmp_path)


def test_missing_emulator_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(components.shutil, "which", lambda name: "/usr/bin/java" if name == "java" else None)
    monkeypatch.setattr(components, "PUBSUB_EMULATOR_BIN", tmp_path / "no-such-emulator")
    with pytest.raises(components.MissingPrerequisite, match="the Pub/Sub emulator is not installed"):
        components.pubsub_emulator_command(8085, tmp_path)


def test_gcloud_is_the_fallback_launcher(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(components.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(components, "PUBSUB_EMULATOR_BIN", tmp_path / "no-such-emulator")
    command = components.pubsub_emulator_command(8123, tmp_path / "pubsub")
    assert command[:5] == ["gcloud", "beta", "emulators", "pubsub", "start"]
    assert "--host-port=127.0.0.1:8123" in command


def test_ports_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBAPP_PORT", "9090")
    assert Ports.from_env().webapp == 9090
    monkeypatch.setenv("MLAPP_PORT", "eighty")
    with pytest.raises(SystemExit, match="MLAPP_PORT must be a port number, got 'eighty'"):
        Ports.from_env()
