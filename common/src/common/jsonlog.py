"""Logging for every process: one line per record on stdout, as JSON or as short human text.

JSON lines carry service, severity and any ids passed as `extra={"request_id": ..., "event_id": ...}` (each key
becomes a field of the line); the text form (`common.logtext`) shows the same record for a person at a terminal.

`LOG_FORMAT` chooses: `json`, `text`, or `auto` (the default): text when stdout is a terminal, else JSON. So
containers, CI and anything that reads the output stay on JSON without being told, and a person running a job
or `make up` in a terminal reads text. `LOG_COLOR` (`auto`, `always`, `never`) colours the text form: `auto`
colours only a terminal, `always` is for a parent that shows a child's piped output on its own terminal (the
local launcher), and a non-empty `NO_COLOR` turns colour off whatever else is set (https://no-color.org).
`LOG_LEVEL` (default `INFO`) is the lowest level written. These four are read here and nowhere else.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from common.logtext import TextFormatter, extra_fields
from common.settings import ConfigError

LOG_FORMATS = ("auto", "json", "text")
LOG_COLORS = ("auto", "always", "never")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
QUIET_LIBRARIES = ("urllib3", "google", "werkzeug", "alembic", "mlflow")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def is_terminal(stream: IO[str] | None) -> bool:
    """False for anything that is not an open terminal (a pipe, a file, pytest's capture, a closed stream)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or "auto").strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {env.get(name)!r}")
    return value


@dataclass(frozen=True)
class LogStyle:
    """How lines are written: `format` is "json" or "text"; `colour` only matters for text."""

    format: str
    colour: bool
    level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str], stream: IO[str] | None) -> LogStyle:
        """`auto` resolved against `stream`; a value that is not a choice raises `ConfigError` naming its variable."""
        chosen, colour = _choice(env, "LOG_FORMAT", LOG_FORMATS), _choice(env, "LOG_COLOR", LOG_COLORS)
        terminal = is_terminal(stream)
        text = chosen == "text" or (chosen == "auto" and terminal)
        no_colour = bool(env.get("NO_COLOR"))
        coloured = not no_colour and (colour == "always" or (colour == "auto" and terminal))
        level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {env.get('LOG_LEVEL')!r}")
        return cls("text" if text else "json", text and coloured, level)


def make_formatter(service: str, style: str = "json", colour: bool = False) -> logging.Formatter:
    """The formatter for a resolved style; also the `()` factory of gunicorn's `logconfig_dict`."""
    return TextFormatter(colour=colour) if style == "text" else JsonFormatter(service)


def configure_logging(service: str) -> logging.Logger:
    """Route every logger (ours, gunicorn's, libraries') to stdout in the style and level the variables choose.
    Idempotent.

    Raises `ConfigError` when LOG_FORMAT, LOG_COLOR or LOG_LEVEL has a value that is not one of its choices."""
    style = LogStyle.from_env(os.environ, sys.stdout)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(make_formatter(service, style.format, style.colour))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(style.level)
    for noisy in QUIET_LIBRARIES:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return logging.getLogger(service)


def gunicorn_logging(service_name: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its own lines in the style the app's use, resolved once, so a bad value stops
    gunicorn before it binds. (Not named `logconfig`: gunicorn reads every setting name in its config module.)"""
    style = LogStyle.from_env(os.environ, sys.stdout)
    formatter = {"()": "common.jsonlog.make_formatter", "service": service_name, "style": style.format,
                 "colour": style.colour}  # fmt: skip
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": formatter},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "service", "stream": "ext://sys.stdout"}
        },
        "root": {"level": style.level, "handlers": ["stdout"]},
        "loggers": {"gunicorn.error": {"handlers": ["stdout"], "level": style.level, "propagate": False}},
    }
