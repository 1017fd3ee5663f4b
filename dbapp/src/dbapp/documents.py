"""What dbapp stores: predictions (collection 1) and corrections (collection 2), validated into one normal form.

`/store` and the Pub/Sub consumer both go through `normalise`, so a document looks the same whichever way it
arrived and has the same bounds (the payload models of `common.contracts.store`, then `MAX_DOCUMENT_BYTES` of
canonical JSON as a backstop). Error keys name the bad field relative to the `data` object (`record.bedrooms`,
`corrected_price`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

from common.contracts.base import InputInvalid, parse
from common.contracts.store import CorrectionData, PredictionData

M = TypeVar("M", bound=BaseModel)

MAX_DOCUMENT_BYTES = 16 * 1024
# Every unknown key is one error; a body (at most 64 KiB) can hold thousands. The answer lists this many.
MAX_REPORTED_FIELDS = 20
# `data` > `record` > a field is three levels; anything much deeper is refused before a validator prints it (the
# text of a value nested near Python's recursion limit cannot be made).
MAX_DEPTH = 4


class Kind(Enum):
    PREDICTION = "prediction"
    CORRECTION = "correction"


DATA_MODELS: dict[Kind, type[PredictionData] | type[CorrectionData]] = {
    Kind.PREDICTION: PredictionData,
    Kind.CORRECTION: CorrectionData,
}


class DocumentInvalid(InputInvalid):
    """The data of a document broke one or more rules; `fields` maps each bad field to its message."""

    @classmethod
    def listing_some(cls, fields: dict[str, str]) -> DocumentInvalid:
        """The first `MAX_REPORTED_FIELDS` errors; the message says how many more there are."""
        if len(fields) <= MAX_REPORTED_FIELDS:
            return cls(fields)
        error = cls(dict(list(fields.items())[:MAX_REPORTED_FIELDS]))
        error.args = (f"{error}; and {len(fields) - MAX_REPORTED_FIELDS} more",)
        return error


class DocumentTooLarge(DocumentInvalid):
    """The normalised document is larger than `MAX_DOCUMENT_BYTES` of canonical JSON."""

    status = 413
    summary = "document too large"

    def __init__(self, size: int, limit: int):
        super().__init__({"data": f"the document is {size} bytes of JSON; the limit is {limit} bytes"})


def canonical_json(value: Any) -> bytes:
    """The one serialisation used to measure a document and to derive ids from it: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_size(doc: dict[str, Any]) -> dict[str, Any]:
    size = len(canonical_json(doc))
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(size, MAX_DOCUMENT_BYTES)
    return doc


def too_deep(data: Mapping[str, Any]) -> str | None:
    """The path of the first object or array nested more than `MAX_DEPTH` levels deep (`data` is level 1)."""
    stack: list[tuple[str, Any, int]] = [("", data, 1)]
    while stack:
        path, value, depth = stack.pop()
        children = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, child in children:
            if isinstance(child, Mapping | list):
                where = f"{path}.{str(key)[:40]}" if path else str(key)[:40]
                if depth >= MAX_DEPTH:
                    return where
                stack.append((where, child, depth + 1))
    return None


def present(data: Any) -> dict[str, Any]:
    """`data` without its null values (null means absent: a required field is then "is required"), or
    `DocumentInvalid` when it is not an object or is nested more than `MAX_DEPTH` levels deep."""
    if not isinstance(data, Mapping):
        raise DocumentInvalid({"data": "must be a JSON object"})
    deep = too_deep(data)
    if deep:
        raise DocumentInvalid({deep: f"is nested too deeply (at most {MAX_DEPTH} levels of objects and arrays)"})
    return {key: value for key, value in data.items() if value is not None}


def parse_data(model: type[M], data: Any) -> M:
    """`data` as a payload model, or `DocumentInvalid` naming every bad field."""
    try:
        return parse(model, present(data))
    except InputInvalid as exc:
        raise DocumentInvalid.listing_some(exc.fields) from None


def document_of(model: BaseModel) -> dict[str, Any]:
    """The normal form of parsed data: every known field except the `event_id` key, within the size limit."""
    return check_size(model.model_dump(exclude={"event_id"}))


def normalise(kind: Kind, data: Any) -> dict[str, Any]:
    """Return the document data in normal form, or raise `DocumentInvalid`.

    A key named `event_id` is not part of the data: `/store` uses it as the idempotency key, the consumer uses
    the envelope's."""
    return document_of(parse_data(DATA_MODELS[kind], data))
