"""`POST /store`'s body, ours or the seed system's, turned into what to write: table, event_id and document.

Ours is `{"table", "data": {"record": {...}, ...}}` (`PredictionData` / `CorrectionData`). Any other `data` is
the seed system's flat body, `{16 house fields, "price"}` (`SeedHouse`), stored in the same normal form: in
collection 1 as a prediction whose model is unknown, in collection 2 as a correction.

The seed stored a correction of a house only once (the same 16 fields, whatever the price). Here its event_id
is derived from the normalised house, so the store's insert-if-absent does that dedupe: two concurrent writers
of the same house race on one unique key, not on a read followed by a write.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.contracts.store import CorrectionDocument, PredictionDocument, SeedHouse
from common.schema import PRICE
from dbapp.documents import DATA_MODELS, Kind, canonical_json, document_of, parse_data

BODY_KEYS = ("table", "data")
# Fixed for good: changing it would give every seed correction already stored a new event_id, so the next
# correction of the same house would be stored again.
SEED_CORRECTIONS = uuid.uuid5(uuid.NAMESPACE_URL, "house-price-platform:dbapp:seed-correction")


class BodyInvalid(ValueError):
    """The body has no usable `table` or `data` (answered 400); `fields` says what is wrong with each."""

    def __init__(self, error: str, fields: dict[str, str]):
        self.fields = fields
        super().__init__(error)


@dataclass(frozen=True)
class StoreRequest:
    table: str
    event_id: str
    data: dict[str, Any]
    # True when event_id comes from the house itself: a repeat with another price is the seed's "already
    # exists", not a conflict.
    derived_id: bool = False


def _body_errors(body: Any, kinds: Mapping[str, Kind]) -> tuple[str, dict[str, str]] | None:
    """(error, fields) when the body is not `{"table": <a known table>, "data": <not empty>}`, else None."""
    known = ", ".join(sorted(kinds))
    if not isinstance(body, Mapping):
        return f"the body must be a JSON object with table ({known}) and data", {"body": "must be a JSON object"}
    table, data = body.get("table"), body.get("data")
    fields: dict[str, str] = {}
    if not table:
        fields["table"] = f"is required (one of: {known})"
    elif not isinstance(table, str) or table not in kinds:
        fields["table"] = f"unknown table {repr(table)[:60]}; expected one of: {known}"
    if not data:
        fields["data"] = "is required (a JSON object)"
    unknown = [repr(key)[:40] for key in body if key not in BODY_KEYS]
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        fields["body"] = f"has unknown keys {', '.join(unknown[:5])}{more}; only table and data are known"
    if not table or not data:
        return f"Missing table or data: send {{table: one of {known}, data: {{...}}}}", fields
    if "table" in fields:
        return f"Invalid table name {repr(table)[:60]}: the tables are {known}", fields
    return (f"invalid body: {fields['body']}", fields) if fields else None


def store_request(body: Any, kinds: Mapping[str, Kind]) -> StoreRequest:
    """What to write for this body; `BodyInvalid` (400) or `DocumentInvalid` (422, 413) when nothing can be."""
    problem = _body_errors(body, kinds)
    if problem:
        raise BodyInvalid(*problem)
    table, data = body["table"], body["data"]
    kind = kinds[table]
    if isinstance(data, Mapping) and "record" not in data:
        return _seed_request(table, kind, data)
    parsed = parse_data(DATA_MODELS[kind], data)
    return StoreRequest(table, parsed.event_id or str(uuid.uuid4()), document_of(parsed))


def _seed_request(table: str, kind: Kind, data: Mapping[str, Any]) -> StoreRequest:
    house = dict(parse_data(SeedHouse, data).root)
    price = house.pop(PRICE.name)
    if kind is Kind.PREDICTION:
        return StoreRequest(table, str(uuid.uuid4()), document_of(PredictionDocument(record=house, result=price)))
    document = document_of(CorrectionDocument(record=house, corrected_price=price))
    return StoreRequest(table, seed_correction_id(house), document, derived_id=True)


def seed_correction_id(record: Mapping[str, Any]) -> str:
    """The event_id of a seed-shaped correction: the same for the same normalised house, whatever its price."""
    return str(uuid.uuid5(SEED_CORRECTIONS, canonical_json(dict(record)).decode()))
