"""What the HTML forms send: the 16 house fields, a corrected price, and the signed correction context.

The rules are the shared schema's (`common.schema`), so a form, the JSON API, mlapp and dbapp all say the same
thing about the same value. The result page carries the record, the predicted price, the model, the
prediction's event id and an idempotency key minted for this page in one signed token: the correction that
comes back is exactly what was priced, and submitting the same page twice (a person retrying after a timeout)
publishes the same correction event, stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from common.events import idempotency_key_problem
from common.schema import (
    FIELD_NAMES,
    FIELDS_BY_NAME,
    INPUT_FIELDS,
    PRICE,
    FieldSpec,
    RecordInvalid,
    number_value,
    validate_record,
)

CORRECTION_TOKEN_MAX_AGE = 7 * 24 * 3600
_TOKEN_SALT = "webapp.correction.v1"

# How the form groups the fields (presentation only; the fields themselves come from the schema).
FIELD_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Size and rooms", ("bedrooms", "bathrooms", "floors", "sqft_living", "sqft_above", "sqft_basement", "sqft_lot")),
    ("Setting and condition", ("waterfront", "view", "condition", "yr_built", "yr_renovated")),
    ("Address", ("street", "city", "statezip", "country")),
)


def grouped_fields() -> list[tuple[str, list[FieldSpec]]]:
    return [(title, [FIELDS_BY_NAME[n] for n in names]) for title, names in FIELD_GROUPS]


def example_values() -> dict[str, str]:
    return {spec.name: str(spec.example) for spec in INPUT_FIELDS}


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The house fields as the user typed them (kept when the form is shown again)."""
    return {name: str(form.get(name, ""))[:500] for name in FIELD_NAMES}


def house_record(form: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any] | None, dict[str, str]]:
    """(values as typed, the valid record or None, field -> message)."""
    values = form_values(form)
    try:
        return values, validate_record(values), {}
    except RecordInvalid as exc:
        return values, None, exc.fields


def parse_price(raw: Any) -> tuple[float | None, str | None]:
    """A price a person typed (`500000`, `$500,000`, `500 000`) or sent as JSON -> (value, None) or (None, message).

    Only the typing is forgiven here (currency sign, thousands separators); the rules are the schema's."""
    if isinstance(raw, str):
        raw = raw.strip().replace(",", "").replace(" ", "").replace("\u00a0", "").removeprefix("$")
    if raw is None or raw == "":
        return None, "is required"
    value, error = number_value(PRICE, raw)
    return (None, error) if error else (float(value), None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CorrectionContext:
    """What a correction form carries from the prediction it corrects."""

    record: dict[str, Any]
    predicted_price: float | None
    prediction_event_id: str | None
    model: dict[str, Any] | None
    idempotency_key: str | None = None


class TokenInvalid(ValueError):
    pass


class CorrectionTokens:
    def __init__(self, secret_key: str):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_TOKEN_SALT)

    def sign(self, context: CorrectionContext) -> str:
        return self._serializer.dumps(
            {
                "record": context.record,
                "predicted_price": context.predicted_price,
                "prediction_event_id": context.prediction_event_id,
                "model": context.model,
                "idempotency_key": context.idempotency_key,
            }
        )

    def load(self, token: str | None) -> CorrectionContext:
        """The context, with the record re-validated; `TokenInvalid` when altered, expired or missing."""
        if not token:
            raise TokenInvalid("the form does not carry the prediction it corrects")
        try:
            data = self._serializer.loads(token, max_age=CORRECTION_TOKEN_MAX_AGE)
        except BadSignature as exc:
            raise TokenInvalid("the form was altered or is older than 7 days") from exc
        if not isinstance(data, dict):
            raise TokenInvalid("the form carries no prediction")
        try:
            record = validate_record(data.get("record") or {})
        except RecordInvalid as exc:
            raise TokenInvalid(f"the carried house record is invalid: {exc}") from exc
        predicted = data.get("predicted_price")
        model = data.get("model")
        event_id = data.get("prediction_event_id")
        key = data.get("idempotency_key")
        return CorrectionContext(
            record=record,
            predicted_price=float(predicted) if isinstance(predicted, int | float) else None,
            prediction_event_id=event_id if isinstance(event_id, str) else None,
            model=model if isinstance(model, dict) else None,
            idempotency_key=key if isinstance(key, str) and idempotency_key_problem(key) is None else None,
        )
