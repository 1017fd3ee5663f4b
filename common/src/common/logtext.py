"""The human form of a log line, for a person at a terminal (`common.jsonlog` decides when it is used):

    12:03:04 INFO  data_versioning.job  version 3 committed  rows=1000 version=3

local time, level (coloured when colour is on), logger, message, then the `extra` fields as key=value, each
value and the whole list cut to a bounded length; an exception's traceback follows on the next lines.

Control characters other than newline and tab are shown escaped: messages and fields can carry text a client
sent (a path, a CSV value), and a terminal would otherwise obey the escape sequences in it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
MAX_VALUE = 80  # characters of one field's value
MAX_FIELDS = 400  # characters of all fields together
ELLIPSIS = "…"

RESET, DIM = "\033[0m", "\033[2m"
LEVELS = {  # short names keep the columns after the level aligned
    logging.DEBUG: ("DEBUG", "\033[2m"),
    logging.INFO: ("INFO", "\033[32m"),
    logging.WARNING: ("WARN", "\033[33m"),
    logging.ERROR: ("ERROR", "\033[31m"),
    logging.CRITICAL: ("CRIT", "\033[1;31m"),
}
_PLAIN = re.compile(r"[\w.,:/@+\-%#()\[\]…]+")  # a value made only of these needs no quotes
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"}
_CONTROLS_IN_VALUES = {**_CONTROLS, ord("\n"): "\\n", ord("\t"): "\\t"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed as `extra`: every record attribute that logging itself does not set."""
    return {k: v for k, v in record.__dict__.items() if k not in RESERVED and not k.startswith("_")}


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def field_value(value: Any) -> str:
    """One value as it follows `key=`: plain words bare, other text quoted, lists and mappings as compact JSON."""
    if isinstance(value, dict | list | tuple):
        text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    text = shorten(text, MAX_VALUE)
    if not isinstance(value, dict | list | tuple) and not _PLAIN.fullmatch(text):
        text = json.dumps(text, ensure_ascii=False)
    return text.translate(_CONTROLS_IN_VALUES)


class TextFormatter(logging.Formatter):
    def __init__(self, colour: bool = False):
        super().__init__()
        self.colour = colour

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.colour else text

    def format(self, record: logging.LogRecord) -> str:
        name, code = LEVELS.get(record.levelno, (record.levelname, ""))
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = self._paint(f"{name:<5}", code)
        line = f"{when} {level} {self._paint(record.name, DIM)}  {record.getMessage().translate(_CONTROLS)}"
        fields = " ".join(f"{key}={field_value(value)}" for key, value in extra_fields(record).items())
        if fields:
            line += "  " + shorten(fields, MAX_FIELDS)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info).translate(_CONTROLS)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line
