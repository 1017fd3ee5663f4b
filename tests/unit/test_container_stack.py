"""What `make up-containers` asks the engine for, read from the commands it builds (no engine needed): each
component on the platform's network under its service name, as the manifests run it, on loopback ports only."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_platform.container_stack import ContainerStack
from local_platform.engine import Engine
from local_platform.stack import Ports


def _stack(tmp_path: Path, name: str = "hp-unit") -> ContainerStack:
    return ContainerStack(data_dir=tmp_path, engine=Engine("podman", {}), ports=Ports(webapp=18080), name=name)


def _flag_values(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, part in enumerate(cmd) if part == flag]


def test_a_service_runs_read_only_on_the_network_under_its_name(tmp_path: Path) -> None:
    cmd = _stack(tmp_path)._run_command("webapp", "webapp", [], (18080, 8080))
    assert cmd[:3] == ["podman", "run", "--rm"]
    assert _flag_values(cmd, "--name") == ["hp-unit-webapp"]
    assert _flag_values(cmd, "--network") == ["hp-unit"] and _flag_values(cmd, "--network-alias") == ["webapp"]
    assert "--read-only" in cmd and _flag_values(cmd, "--tmpfs") == ["/tmp:rw,mode=1777"]
    assert _flag_values(cmd, "--publish") == ["127.0.0.1:18080:8080"]
    assert _flag_values(cmd, "--volume") == [f"{tmp_path}:{tmp_path}"]
    assert "--user" not in cmd  # the image's own non-root user
    assert cmd[-1] == "house-price/webapp:latest"


def test_components_find_each_other_by_service_name(tmp_path: Path) -> None:
    cmd = _stack(tmp_path)._run_command("train", "trainer", ["--all"], None)
    env = dict(value.split("=", 1) for value in _flag_values(cmd, "--env"))
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["PUBSUB_EMULATOR_HOST"] == "pubsub:8085"
    assert env["DBAPP_URL"] == "http://dbapp:8082" and env["MLAPP_URL"] == "http://mlapp:8081"
    assert env["PLATFORM_DATA_DIR"] == str(tmp_path)
    assert "--publish" not in cmd and cmd[-2:] == ["house-price/trainer:latest", "--all"]


def test_host_tools_see_the_published_ports(tmp_path: Path) -> None:
    env = _stack(tmp_path).env()
    assert env["PUBSUB_EMULATOR_HOST"] == "127.0.0.1:8085"
    assert env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"


def test_two_platforms_do_not_share_a_label(tmp_path: Path) -> None:
    assert _stack(tmp_path, "a").label != _stack(tmp_path, "b").label


def test_containers_write_logs_in_the_launchers_style(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A container's stdout is a pipe to the launcher: it gets the style the launcher chose for its terminal."""
    monkeypatch.setenv("LOG_FORMAT", "text")
    monkeypatch.setenv("LOG_COLOR", "always")
    monkeypatch.delenv("NO_COLOR", raising=False)
    cmd = _stack(tmp_path)._run_command("webapp", "webapp", [], (18080, 8080))
    env = dict(value.split("=", 1) for value in _flag_values(cmd, "--env"))
    assert (env["LOG_FORMAT"], env["LOG_COLOR"]) == ("text", "always") and "NO_COLOR" not in env
