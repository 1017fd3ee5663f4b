"""Log lines: JSON for machines (pipes, containers, CI), short text for a person at a terminal, chosen by
LOG_FORMAT (auto by default) and coloured by LOG_COLOR / NO_COLOR."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest

from common.jsonlog import JsonFormatter, LogStyle, configure_logging
from common.logtext import MAX_FIELDS, MAX_VALUE, TextFormatter
from common.settings import ConfigError

ESCAPE = "\033["


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers (pytest's among them): put them back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("data_versioning.job", level, __file__, 1, message, (), None)
    entry.__dict__.update(extra)
    return entry


@pytest.mark.parametrize(
    ("env", "terminal", "expected"),
    [
        ({}, True, LogStyle("text", True)),
        ({}, False, LogStyle("json", False)),
        ({"LOG_FORMAT": "auto"}, True, LogStyle("text", True)),
        ({"LOG_FORMAT": "json"}, True, LogStyle("json", False)),
        ({"LOG_FORMAT": "TEXT"}, False, LogStyle("text", False)),
        ({"LOG_FORMAT": "text", "LOG_COLOR": "always"}, False, LogStyle("text", True)),
        ({"LOG_COLOR": "never"}, True, LogStyle("text", False)),
        ({"NO_COLOR": "1"}, True, LogStyle("text", False)),
        ({"LOG_FORMAT": "text", "LOG_COLOR": "always", "NO_COLOR": "1"}, False, LogStyle("text", False)),
        ({"NO_COLOR": ""}, True, LogStyle("text", True)),  # only a non-empty NO_COLOR counts
    ],
)
def test_the_style_follows_the_variables_and_whether_stdout_is_a_terminal(
    env: dict[str, str], terminal: bool, expected: LogStyle
) -> None:
    stream = FakeTerminal() if terminal else io.StringIO()
    assert LogStyle.from_env(env, stream) == expected


@pytest.mark.parametrize(("name", "value"), [("LOG_FORMAT", "xml"), ("LOG_COLOR", "sometimes")])
def test_a_bad_value_fails_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be one of .*, got '{value}'"):
        LogStyle.from_env({name: value}, io.StringIO())


def test_a_stream_that_cannot_say_is_not_a_terminal() -> None:
    closed = io.StringIO()
    closed.close()
    assert LogStyle.from_env({}, closed) == LogStyle("json", False)
    assert LogStyle.from_env({}, None) == LogStyle("json", False)


def test_configure_logging_writes_text_to_a_terminal_and_json_to_a_pipe(
    root_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.delenv("LOG_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal, pipe = FakeTerminal(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", terminal)
    configure_logging("data-job").info("version 3 committed", extra={"version": 3})
    monkeypatch.setattr(sys, "stdout", pipe)
    configure_logging("data-job").info("version 3 committed", extra={"version": 3})
    assert ESCAPE in terminal.getvalue() and "version 3 committed" in terminal.getvalue()
    line = json.loads(pipe.getvalue())
    assert (line["service"], line["message"], line["version"]) == ("data-job", "version 3 committed", 3)


def test_configure_logging_refuses_a_bad_format(root_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "pretty")
    with pytest.raises(ConfigError, match="LOG_FORMAT must be one of auto, json, text, got 'pretty'"):
        configure_logging("webapp")


def test_a_text_line_is_time_level_logger_message_then_fields() -> None:
    line = TextFormatter().format(record("version 3 committed", rows=1000, version=3))
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO  data_versioning\.job  version 3 committed  rows=1000 version=3", line)
    assert ESCAPE not in line


def test_colour_marks_the_level_only_when_asked() -> None:
    warning = record("disk almost full", logging.WARNING)
    assert ESCAPE not in TextFormatter(colour=False).format(warning)
    coloured = TextFormatter(colour=True).format(warning)
    assert "\033[33mWARN \033[0m" in coloured
    assert re.sub(r"\033\[[\d;]*m", "", coloured).endswith("WARN  data_versioning.job  disk almost full")


def test_field_values_are_quoted_when_needed_and_bounded() -> None:
    line = TextFormatter().format(
        record("m", reason="two words", rows={"train": 8, "valid": 2}, url="gs://b/x.csv", empty="", long="x" * 500)
    )
    fields = line.split("  m  ", 1)[1]
    assert fields.startswith('reason="two words" rows={"train":8,"valid":2} url=gs://b/x.csv empty="" long=xxx')
    assert f"long={'x' * (MAX_VALUE - 1)}…" in fields
    many = TextFormatter().format(record("m", **{f"key{i}": "v" * 70 for i in range(20)}))
    assert len(many.split("  m  ", 1)[1]) == MAX_FIELDS and many.endswith("…")


def test_control_characters_cannot_reach_the_terminal() -> None:
    line = TextFormatter(colour=False).format(record("path /\033[2Jx\nnext", path="/\033[31mred", note="a\u009bb"))
    assert "\033" not in line and "\u009b" not in line
    assert "path /\\x1b[2Jx\nnext" in line  # a message keeps its line breaks
    assert 'path="/\\u001b[31mred"' in line and 'note="a\\x9bb"' in line


def test_an_exception_is_printed_below_its_line() -> None:
    try:
        raise ValueError("bad row")
    except ValueError:
        failed = record("data job failed", logging.ERROR, version=3)
        failed.exc_info = sys.exc_info()
    first, *rest = TextFormatter().format(failed).splitlines()
    assert first.endswith("ERROR data_versioning.job  data job failed  version=3")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: bad row"


def test_json_lines_keep_their_fields() -> None:
    line = json.loads(JsonFormatter("data-job").format(record("version 3 committed", version=3)))
    assert {k: line[k] for k in ("severity", "service", "logger", "message", "version")} == {
        "severity": "INFO",
        "service": "data-job",
        "logger": "data_versioning.job",
        "message": "version 3 committed",
        "version": 3,
    }
