"""Shared gunicorn settings: values from the environment, the metrics folder created before workers start, and
gunicorn's own log lines in the style the apps use (LOG_FORMAT)."""

import importlib
import logging
import logging.config
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gunicorn.config import Config

from common.jsonlog import JsonFormatter
from common.logtext import TextFormatter
from common.server_settings import ServerSettings
from common.settings import ConfigError


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


@pytest.mark.parametrize("module", ["common.gunicorn_conf", "mlapp.gunicorn_conf"])
def test_gunicorn_accepts_every_setting_the_module_defines(module: str) -> None:
    """What gunicorn does with a `-c python:<module>` file: every module-level name that is one of its settings is
    validated (a helper function called `logconfig`, say, would stop it at start)."""
    conf = importlib.reload(importlib.import_module(module))
    config = Config()
    applied = {
        name for name, value in vars(conf).items() if name in config.settings and config.set(name, value) is None
    }
    assert {"bind", "workers", "threads", "timeout", "graceful_timeout", "logconfig_dict", "post_fork"} <= applied


def test_bad_server_settings_stop_the_start_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="GUNICORN_WORKERS must be a whole number, got 'two'"):
        ServerSettings.from_env({"GUNICORN_WORKERS": "two"})
    with pytest.raises(ConfigError, match="READ_ONLY_PORT must differ from PORT"):
        ServerSettings.from_env({"PORT": "8082", "READ_ONLY_PORT": "8082"})


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


@pytest.fixture
def saved_logging() -> Iterator[None]:
    """dictConfig below rewires the root and gunicorn.error loggers of this process: restore them afterwards."""
    loggers = [logging.getLogger(), logging.getLogger("gunicorn.error")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        lg.handlers[:], lg.propagate = handlers, propagate
        lg.setLevel(level)


@pytest.mark.parametrize(
    ("env", "formatter"),
    [({}, JsonFormatter), ({"LOG_FORMAT": "json"}, JsonFormatter), ({"LOG_FORMAT": "text"}, TextFormatter)],
)
def test_gunicorn_logs_in_the_style_log_format_chooses(
    monkeypatch: pytest.MonkeyPatch, saved_logging: None, env: dict[str, str], formatter: type
) -> None:
    """Under pytest stdout is not a terminal, so the default (auto) is JSON, as in a container."""
    for name in ("LOG_FORMAT", "LOG_COLOR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    conf = importlib.reload(importlib.import_module("common.gunicorn_conf"))
    logging.config.dictConfig(conf.logconfig_dict)
    (handler,) = logging.getLogger("gunicorn.error").handlers
    assert type(handler.formatter) is formatter


def test_mlapp_keeps_its_service_name_in_gunicorn_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.setenv("LOG_FORMAT", "json")
    importlib.reload(importlib.import_module("common.gunicorn_conf"))
    conf = importlib.reload(importlib.import_module("mlapp.gunicorn_conf"))
    assert conf.logconfig_dict["formatters"]["service"]["service"] == "mlapp"


def test_a_bad_log_format_stops_gunicorn_naming_the_variable() -> None:
    env = {**os.environ, "LOG_FORMAT": "colourful"}
    probe = [sys.executable, "-c", "import common.gunicorn_conf"]
    found = subprocess.run(probe, env=env, capture_output=True, text=True)
    assert found.returncode != 0
    assert "LOG_FORMAT must be one of auto, json, text, got 'colourful'" in found.stderr


@pytest.mark.parametrize("module", ["common.gunicorn_conf", "mlapp.gunicorn_conf"])
def test_gunicorn_builds_no_access_line_of_its_own(module: str, saved_logging: None) -> None:
    """The apps write their access lines; gunicorn's logger, as configured, must not build one per request (with
    `logconfig_dict` set, gunicorn's default logger computes every line for a logger that writes nowhere)."""
    conf = importlib.reload(importlib.import_module(module))
    config = Config()
    for name in ("logger_class", "logconfig_dict"):
        config.set(name, getattr(conf, name))
    logger = config.logger_class(config)
    assert logger.access_log_enabled is False

    class Untouchable:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"gunicorn read {name} to build an access line")

    logger.access(Untouchable(), Untouchable(), {}, Untouchable())
