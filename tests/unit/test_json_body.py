"""`common.webservice.json_body`: orjson's fast path gives exactly the standard library's values (integers beyond
64 bits included), the standard library decides and words whatever orjson refuses, and the nesting limit holds at
its exact boundary."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from common.webservice import MAX_JSON_DEPTH, BodyInvalid, json_body

APP = Flask(__name__)

DOCUMENTS = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits: orjson would round them to floats
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
)


def parse(body: bytes) -> Any:
    with APP.test_request_context("/", method="POST", data=body, content_type="application/json"):
        return json_body()


def nested(depth: int) -> bytes:
    return ("[" * (depth - 1) + '{"a": 1}' + "]" * (depth - 1)).encode()


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_any_document_parses_to_what_the_standard_library_gives(document: Any) -> None:
    body = json.dumps(document).encode()
    assert repr(parse(body)) == repr(json.loads(body))  # repr: 2**70 == float(2**70) in Python


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\ud800"}',  # a lone surrogate: orjson refuses it, JSON allows it
        '{"a": "ü"}'.encode("utf-16"),  # not UTF-8: the standard library detects the encoding
        b'{"a": 1e400}',  # overflows a float: the standard library makes it infinity, validation refuses it later
        b'{"a": 1, "a": 2}',  # duplicate keys: the last wins in both
        b'{"street": 1180591620717411303424}',  # 2**70: orjson reads the float 1.1805916207174113e+21
        b'{"a": -9223372036854775809}',  # one below the smallest 64-bit integer
        b'{"a": 18446744073709551616}',  # one above the largest unsigned 64-bit integer
    ],
)
def test_documents_orjson_refuses_or_rounds_are_parsed_by_the_standard_library(body: bytes) -> None:
    assert repr(parse(body)) == repr(json.loads(body))  # repr: 2**70 == float(2**70) in Python


@pytest.mark.parametrize("body", [b"NaN", b'{"a": Infinity}', b"{", b"\xff\xfe\x00", b'{"a": 1} x'])
def test_invalid_json_is_refused_with_the_standard_librarys_words(body: bytes) -> None:
    with pytest.raises(BodyInvalid, match="not valid JSON"):
        parse(body)


def test_nesting_is_allowed_up_to_the_limit_and_refused_past_it() -> None:
    assert parse(nested(MAX_JSON_DEPTH))
    with pytest.raises(BodyInvalid, match=f"nested more than {MAX_JSON_DEPTH} levels"):
        parse(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(BodyInvalid, match=f"nested more than {MAX_JSON_DEPTH} levels"):
        parse(nested(5000))  # deeper than either parser recurses


def test_a_wide_shallow_document_is_not_mistaken_for_a_deep_one() -> None:
    body = json.dumps({"records": [{"a": [1, {"b": 2}]} for _ in range(5000)]}).encode()
    assert len(parse(body)["records"]) == 5000
