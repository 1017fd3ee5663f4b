"""Jinja filters: prices as dollars, timestamps in UTC, metrics with sensible precision."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def dollars(value: Any) -> str:
    """`462000.4` -> `$462,000`; anything that is not a finite number -> an em dash."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "\u2014"
    return f"-${abs(value):,.0f}" if value < 0 else f"${value:,.0f}"


def when(value: Any) -> str:
    """An ISO timestamp as `2025-01-02 13:04 UTC`; text that is not one is shown as it is."""
    if not isinstance(value, str) or not value:
        return "\u2014"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def number(value: Any, digits: int = 4) -> str:
    """Metrics: whole numbers with thousands separators, others with `digits` significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "\u2014" if value is None else str(value)
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def plain(value: Any) -> Any:
    """A record value as a person writes it: `3.0` -> `3`, `2.25` stays, text unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def sentence(value: Any) -> str:
    """Upper-case the first letter only (a user's value quoted inside the message keeps its case)."""
    text = str(value)
    return text[:1].upper() + text[1:]


def signed_dollars(value: Any) -> str:
    """A difference in dollars with its sign: `+$12,000`, `-$3,500`."""
    text = dollars(value)
    return f"+{text}" if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else text


def install(app: Flask) -> None:
    app.add_template_filter(dollars, "dollars")
    app.add_template_filter(when, "when")
    app.add_template_filter(number, "number")
    app.add_template_filter(sentence, "sentence")
    app.add_template_filter(plain, "plain")
    app.add_template_filter(signed_dollars, "signed_dollars")
