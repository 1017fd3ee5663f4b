"""The house record as a payload type, and the model reference that travels with every price.

`HouseRecord` validates with `common.schema.validate_record` (the rule table's per-record validator), so a
record inside any model gets exactly the messages `/predict` gives, field by field; its JSON Schema is written
from the same table (types, ranges, lengths), so the OpenAPI documents state the rules that are enforced.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from common.contracts.base import Payload
from common.schema import (
    INPUT_FIELDS,
    MAX_TEXT_LENGTH,
    PRICE,
    FieldSpec,
    RecordInvalid,
    validate_price,
    validate_record,
)

NON_BLANK = r"\S"  # text fields are trimmed; blank text is refused


def field_json_schema(spec: FieldSpec) -> dict[str, Any]:
    """One field's JSON Schema from its rule-table entry."""
    schema: dict[str, Any] = {"title": spec.label, "examples": [spec.example]}
    if spec.is_text:
        return {**schema, "type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH, "pattern": NON_BLANK}
    schema["type"] = "integer" if spec.kind == "int" else "number"
    if spec.exclusive_minimum:
        schema["exclusiveMinimum"] = spec.minimum
    else:
        schema["minimum"] = spec.minimum
    schema["maximum"] = spec.maximum
    return schema


def house_json_schema(*, with_price: bool = False) -> dict[str, Any]:
    specs = (*INPUT_FIELDS, PRICE) if with_price else INPUT_FIELDS
    return {
        "type": "object",
        "title": "HouseWithPrice" if with_price else "HouseRecord",
        "description": "The 16 house fields"
        + (" and the price" if with_price else "")
        + ". Numbers may also be sent as numeric text; other keys are ignored. yr_renovated is 0 (never) or not "
        "before yr_built; sqft_above is at most sqft_living.",
        "properties": {spec.name: field_json_schema(spec) for spec in specs},
        "required": [spec.name for spec in specs],
    }


def _validated(value: Any) -> dict[str, Any]:
    try:
        return validate_record(value)
    except RecordInvalid as exc:
        raise PydanticCustomError("house_record", "{summary}", {"summary": str(exc), "fields": exc.fields}) from None


HouseRecord = Annotated[dict[str, Any], PlainValidator(_validated), WithJsonSchema(house_json_schema())]


def _valid_price(value: Any) -> float:
    try:
        return validate_price(value)
    except RecordInvalid as exc:
        raise PydanticCustomError("price", "{message}", {"message": exc.fields[PRICE.name]}) from None


Price = Annotated[float, PlainValidator(_valid_price), WithJsonSchema(field_json_schema(PRICE))]


class ModelRef(Payload):
    """The model that made a price: `{name, version, family}` and nothing else."""

    name: str = Field(min_length=1, max_length=128, pattern=NON_BLANK, description="Registered model name")
    version: int = Field(ge=1, le=2**31 - 1, description="Registered model version")
    family: str | None = Field(default=None, max_length=64, description="Model family (a folder under models/)")
