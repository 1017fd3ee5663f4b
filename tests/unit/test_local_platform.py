"""`make up` prerequisites and settings: a missing tool or a bad port stops it with a message naming it; on a
terminal the launcher and its children write text, elsewhere JSON."""

import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.settings import ConfigError
from local_platform import cli, components
from local_platform.config import LauncherConfig
from local_platform.processes import Child, terminal_log_env
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


def test_the_launcher_reads_its_ports_and_names_a_bad_one() -> None:
    config = LauncherConfig.from_env({"WEBAPP_PORT": "9090", "GOOGLE_CLOUD_PROJECT": "p1"})
    assert config.ports.webapp == 9090 and config.ports.mlapp == Ports().mlapp and config.gcp_project == "p1"
    with pytest.raises(ConfigError, match="MLAPP_PORT must be a whole number, got 'eighty'"):
        LauncherConfig.from_env({"MLAPP_PORT": "eighty"})
    with pytest.raises(ConfigError, match="DBAPP_PORT must be between 1 and 65535, got 70000"):
        LauncherConfig.from_env({"DBAPP_PORT": "70000"})


@pytest.mark.parametrize(
    ("environ", "on_terminal", "added"),
    [
        ({}, True, {"LOG_FORMAT": "text", "LOG_COLOR": "always"}),
        ({"LOG_FORMAT": "auto", "LOG_COLOR": ""}, True, {"LOG_FORMAT": "text", "LOG_COLOR": "always"}),
        ({}, False, {}),  # CI, a file, the e2e tests: the children's auto picks JSON, as today
        ({"LOG_FORMAT": "json"}, True, {"LOG_COLOR": "always"}),  # the person's choice wins
        ({"LOG_COLOR": "never"}, True, {"LOG_FORMAT": "text"}),
        ({"LOG_FORMAT": "text"}, False, {}),
    ],
)
def test_on_a_terminal_the_launcher_asks_its_children_for_coloured_text(
    environ: dict[str, str], on_terminal: bool, added: dict[str, str]
) -> None:
    assert terminal_log_env(environ, on_terminal) == added


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def launcher_main(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[io.StringIO], None]]:
    """`platform pipeline` up to the point where it would start its jobs, with stdout replaced."""
    for name in ("LOG_FORMAT", "LOG_COLOR"):
        monkeypatch.setenv(name, "auto")  # recorded, so what main() writes into os.environ is undone
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(cli, "pipeline", lambda train=True: 0)
    root = logging.getLogger()
    handlers = root.handlers[:]

    def run(stdout: io.StringIO) -> None:
        monkeypatch.setattr(sys, "stdout", stdout)
        with pytest.raises(SystemExit):
            cli.main(["pipeline"])
        logging.getLogger("platform").info("starting MLflow", extra={"port": 5000})

    yield run
    root.handlers[:] = handlers


def test_launched_from_a_terminal_children_and_launcher_write_text(launcher_main) -> None:
    terminal = FakeTerminal()
    launcher_main(terminal)
    child = Child("data-job", ["true"])
    assert (child.env["LOG_FORMAT"], child.env["LOG_COLOR"]) == ("text", "always")
    assert re.fullmatch(r"\S+ \033\[32mINFO .*platform.*  starting MLflow  port=5000\n", terminal.getvalue())


def test_launched_into_a_pipe_children_and_launcher_write_json(launcher_main) -> None:
    pipe = io.StringIO()
    launcher_main(pipe)
    child = Child("data-job", ["true"])
    assert (child.env["LOG_FORMAT"], child.env["LOG_COLOR"]) == ("auto", "auto")
    assert json.loads(pipe.getvalue())["message"] == "starting MLflow"


def test_a_bad_log_format_stops_the_launcher_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "fancy")
    with pytest.raises(SystemExit, match="LOG_FORMAT must be one of auto, json, text, got 'fancy'"):
        cli.main(["pipeline"])
