"""What the forms accept: prices as people type them, the signed correction context, the field groups, and how
values are shown."""

from __future__ import annotations

import pytest

from common.schema import FIELD_NAMES
from tests.unit import webapp_support as ws
from webapp.formatting import dollars, number, signed_dollars, when
from webapp.forms import FIELD_GROUPS, CorrectionContext, CorrectionTokens, TokenInvalid, parse_price


@pytest.mark.parametrize(
    ("raw", "value"),
    [("500000", 500000.0), ("$612,500", 612500.0), (" 450 000 ", 450000.0), ("1e6", 1e6), (725000, 725000.0)],
)
def test_prices_people_type_are_understood(raw, value) -> None:
    assert parse_price(raw) == (value, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "is required"),
        (None, "is required"),
        ("abc", "must be a number (got 'abc')"),
        ("0", "must be greater than 0 (got 0)"),
        ("-5", "must be greater than 0 (got -5)"),
        ("nan", "must be a finite number"),
        ("inf", "must be a finite number"),
        (True, "must be a number, not true/false"),
        ("5e9", "must be at most 1000000000 (got 5000000000)"),
        ("$1,500,000,000", "must be at most 1000000000 (got 1500000000)"),
    ],
)
def test_bad_prices_get_a_message(raw, message) -> None:
    assert parse_price(raw) == (None, message)


def test_every_field_is_in_exactly_one_form_group() -> None:
    grouped = [name for _, names in FIELD_GROUPS for name in names]
    assert sorted(grouped) == sorted(FIELD_NAMES) and len(grouped) == len(set(grouped))


def test_the_correction_context_survives_signing_and_refuses_tampering() -> None:
    tokens = CorrectionTokens(ws.SECRET)
    context = CorrectionContext(ws.record(street="1 Token Street"), 456_000.0, "event-1", {"name": "m", "version": 3})
    token = tokens.sign(context)
    assert tokens.load(token) == context
    with pytest.raises(TokenInvalid, match="altered"):
        tokens.load(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    with pytest.raises(TokenInvalid, match="altered"):
        CorrectionTokens("another-secret-key-0123456789").load(token)
    with pytest.raises(TokenInvalid):
        tokens.load("")


def test_a_signed_but_invalid_record_is_refused() -> None:
    tokens = CorrectionTokens(ws.SECRET)
    token = tokens.sign(CorrectionContext(ws.record(bedrooms=-1), 1.0, None, None))
    with pytest.raises(TokenInvalid, match="bedrooms"):
        tokens.load(token)


def test_formatting() -> None:
    assert dollars(462000.4) == "$462,000"
    assert dollars(None) == "\u2014" and dollars(float("nan")) == "\u2014" and dollars(True) == "\u2014"
    assert signed_dollars(12000.0) == "+$12,000" and signed_dollars(-3500) == "-$3,500"
    assert when("2025-01-02T13:04:05.123+00:00") == "2025-01-02 13:04 UTC"
    assert when("not a date") == "not a date"
    assert number(0.73124) == "0.7312" and number(1200) == "1,200"
