"""What dbapp stores: predictions (collection 1) and corrections (collection 2), validated into one normal form.

`/store` and the Pub/Sub consumer both go through `normalise`, so a document looks the same whichever way it
arrived. Error keys name the bad field relative to the `data` object (`record.bedrooms`, `corrected_price`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from enum import Enum
from typing import Any

from common.schema import PRICE, RecordInvalid, validate_record

MAX_EVENT_ID_LENGTH = 128


class Kind(Enum):
    PREDICTION = "prediction"
    CORRECTION = "correction"


class DocumentInvalid(ValueError):
    """The data of a document broke one or more rules; `fields` maps each bad field to its message."""

    def __init__(self, fields: dict[str, str]):
        self.fields = fields
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in fields.items()))


def _price(raw: Any, *, required: bool) -> tuple[float | None, str | None]:
    """A price in USD: a finite number > 0 and within the schema's upper bound."""
    if raw is None:
        return None, ("is required" if required else None)
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None, f"must be a number (got {str(raw)[:40]!r})"
    try:
        value = float(raw)
    except ValueError:
        return None, f"must be a number (got {raw[:40]!r})"
    if not math.isfinite(value):
        return None, "must be a finite number"
    if value <= 0:
        return None, f"must be greater than 0 (got {value:g})"
    if PRICE.maximum is not None and value > PRICE.maximum:
        return None, f"must be at most {PRICE.maximum:g} (got {value:g})"
    return value, None


def _record(raw: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    if raw is None:
        errors["record"] = "is required (an object with the 16 house fields)"
        return None
    try:
        return validate_record(raw)
    except RecordInvalid as exc:
        for name, message in exc.fields.items():
            errors["record" if name == "record" else f"record.{name}"] = message
        return None


def _model(raw: Any, errors: dict[str, str], *, required: bool) -> dict[str, Any] | None:
    if raw is None:
        if required:
            errors["model"] = "is required (an object describing the model, e.g. name, version, family)"
        return None
    if not isinstance(raw, Mapping):
        errors["model"] = "must be an object"
        return None
    return dict(raw)


def _optional_text(raw: Any, name: str, errors: dict[str, str]) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_EVENT_ID_LENGTH:
        errors[name] = f"must be a non-empty string of at most {MAX_EVENT_ID_LENGTH} characters"
        return None
    return raw.strip()


def normalise(kind: Kind, data: Any) -> dict[str, Any]:
    """Return the document data in normal form (only the known keys, typed), or raise `DocumentInvalid`.

    A key named `event_id` is not part of the data; see `event_id_of`.
    """
    if not isinstance(data, Mapping):
        raise DocumentInvalid({"data": "must be a JSON object"})
    errors: dict[str, str] = {}
    record = _record(data.get("record"), errors)
    if kind is Kind.PREDICTION:
        result, error = _price(data.get("result"), required=True)
        if error:
            errors["result"] = error
        model = _model(data.get("model"), errors, required=True)
        doc = {"record": record, "result": result, "model": model}
    else:
        corrected, error = _price(data.get("corrected_price"), required=True)
        if error:
            errors["corrected_price"] = error
        predicted, error = _price(data.get("predicted_price"), required=False)
        if error:
            errors["predicted_price"] = error
        doc = {
            "record": record,
            "predicted_price": predicted,
            "corrected_price": corrected,
            "prediction_event_id": _optional_text(data.get("prediction_event_id"), "prediction_event_id", errors),
            "model": _model(data.get("model"), errors, required=False),
        }
    if errors:
        raise DocumentInvalid(errors)
    return doc


def event_id_of(data: Mapping[str, Any]) -> str:
    """The client's `event_id` from the data, or a new UUID when it has none."""
    errors: dict[str, str] = {}
    given = _optional_text(data.get("event_id"), "event_id", errors)
    if errors:
        raise DocumentInvalid(errors)
    return given or str(uuid.uuid4())


def parse_store_data(kind: Kind, data: Any) -> tuple[str, dict[str, Any]]:
    """`/store`'s `data`: its event_id (given or new) and its normal form, or `DocumentInvalid` naming every
    bad field at once."""
    if not isinstance(data, Mapping):
        raise DocumentInvalid({"data": "must be a JSON object"})
    errors: dict[str, str] = {}
    event_id: str | None = None
    try:
        event_id = event_id_of(data)
    except DocumentInvalid as exc:
        errors.update(exc.fields)
    try:
        doc = normalise(kind, data)
    except DocumentInvalid as exc:
        errors.update(exc.fields)
    if errors or event_id is None:
        raise DocumentInvalid(errors)
    return event_id, doc
