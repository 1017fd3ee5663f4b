"""dbapp's payloads: what `POST /store` accepts and what dbapp's routes answer.

`/store` takes two kinds of body. Ours: `{"table", "data": {"record": {...}, ...}}`, whose `data` is a
`PredictionData` (collection 1) or a `CorrectionData` (collection 2). The seed system's: `{"table", "data":
{16 house fields, "price"}}` (`SeedStoreBody`), which its webapp still sends. Both are stored in one normal form,
`PredictionDocument` or `CorrectionDocument`; dbapp's consumer validates the data of `prediction.made` and
`correction.submitted` events with `PredictionData` and `CorrectionData` too. Every string is bounded, so a
stored document has a bounded size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PlainValidator, RootModel, WithJsonSchema, create_model
from pydantic_core import PydanticCustomError

from common.contracts.base import Payload
from common.contracts.house import NON_BLANK, HouseRecord, ModelRef, Price, house_json_schema
from common.schema import INPUT_FIELDS, MAX_TEXT_LENGTH, FieldSpec, RecordInvalid, validate_record

MAX_ID_LENGTH = 128
MAX_TABLE_LENGTH = 64
MAX_PAGE_SIZE = 500
MAX_MESSAGE_LENGTH = 2000


def _identifier(value: Any) -> str:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_ID_LENGTH:
        return value.strip()
    raise PydanticCustomError(
        "identifier", "must be a non-empty string of at most {limit} characters", {"limit": MAX_ID_LENGTH}
    )


def _house_with_price(value: Any) -> dict[str, Any]:
    try:
        return validate_record(value, require_price=True)
    except RecordInvalid as exc:
        raise PydanticCustomError("house_record", "{summary}", {"summary": str(exc), "fields": exc.fields}) from None


Identifier = Annotated[
    str,
    PlainValidator(_identifier),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": NON_BLANK}),
]
HouseWithPrice = Annotated[
    dict[str, Any], PlainValidator(_house_with_price), WithJsonSchema(house_json_schema(with_price=True))
]
TableName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TABLE_LENGTH,
        description="The collection: COLLECTION_1 (predictions, default collection_1) or COLLECTION_2 "
        "(corrections, default collection_2)",
    ),
]
Cursor = Annotated[str, Field(pattern=r"^[0-9]{1,19}$", description="Opaque position of a document in its collection")]
Timestamp = Annotated[str, Field(max_length=40, description="When dbapp stored the document (ISO 8601, UTC)")]
Message = Annotated[str, Field(max_length=MAX_MESSAGE_LENGTH)]


# --- what is stored ---------------------------------------------------------------------------------------


class PredictionDocument(Payload):
    """A stored prediction (collection 1): a house, the price a model gave it, and that model."""

    record: HouseRecord
    result: Price = Field(description="The predicted price in USD")
    model: ModelRef | None = Field(default=None, description="The model that made the price; null when unknown")


class CorrectionDocument(Payload):
    """A stored correction (collection 2): a house and its real price, with the estimate it corrects if known."""

    record: HouseRecord
    predicted_price: Price | None = Field(default=None, description="The estimate being corrected, if known")
    corrected_price: Price = Field(description="The real price in USD")
    prediction_event_id: Identifier | None = Field(default=None, description="event_id of the corrected prediction")
    model: ModelRef | None = Field(default=None, description="The model that made the estimate, if known")


# --- what /store accepts ----------------------------------------------------------------------------------


class PredictionData(PredictionDocument):
    """Our `data` for collection 1 (and the data of a `prediction.made` event): the model is required."""

    model: ModelRef = Field(description="The model that made the price")
    event_id: Identifier | None = Field(
        default=None, description="Idempotency key: a repeat with the same data answers 200; without one a UUID is made"
    )


class CorrectionData(CorrectionDocument):
    """Our `data` for collection 2 (and the data of a `correction.submitted` event)."""

    event_id: Identifier | None = Field(
        default=None, description="Idempotency key: a repeat with the same data answers 200; without one a UUID is made"
    )


class SeedHouse(RootModel[HouseWithPrice]):
    """The seed system's `data`: the 16 house fields and `price`, flat. In collection 1 `price` is the predicted
    price (the model is unknown); in collection 2 it is the real price, and a house already corrected this way
    (the same 16 fields) is not stored again."""


class PredictionStoreBody(Payload):
    """`POST /store` with our prediction."""

    table: TableName
    data: PredictionData


class CorrectionStoreBody(Payload):
    """`POST /store` with our correction."""

    table: TableName
    data: CorrectionData


class SeedStoreBody(Payload):
    """`POST /store` as the seed system's webapp sends it (any `data` without a `record` key)."""

    table: TableName
    data: SeedHouse


class StoreBody(RootModel[PredictionStoreBody | CorrectionStoreBody | SeedStoreBody]):
    """`POST /store`: our prediction or correction (`data.record` present), or the seed system's flat body."""


class PageQuery(Payload):
    """The paging parameters of `/retrieve/<collection>` and `/corrections`."""

    limit: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE, description="Items per page (default 50)")
    after: Cursor | None = Field(default=None, description="A `next_cursor` from the previous page")


# --- what dbapp answers -----------------------------------------------------------------------------------


class StoredMeta(Payload):
    """What dbapp adds to every stored document."""

    event_id: Identifier
    cursor: Cursor
    created_at: Timestamp


class StoredPrediction(PredictionDocument, StoredMeta):
    """A stored prediction as `/store` shows it."""


class StoredCorrection(CorrectionDocument, StoredMeta):
    """A stored correction as `/store` shows it."""


class StoreAnswer(Payload):
    """`POST /store` 201 (stored now) or 200 (stored before): the seed's keys, then ours."""

    success: bool = Field(description="true: stored by this call; false: the record already exists (nothing written)")
    message: Message = Field(description='"Data stored in <table>" or "Record already exists in <table>"')
    id: Identifier = Field(description="The document's event_id (the seed's key for it)")
    status: Literal["stored", "already_stored"]
    event_id: Identifier
    cursor: Cursor
    document: StoredPrediction | StoredCorrection


class ErrorAnswer(Payload):
    """Every error: 400 (no usable table/data), 404, 409, 413 (document too large), 422 (bad fields), 503."""

    error: Message
    fields: dict[str, Message] | None = Field(default=None, description="Each bad field (a dotted path) and why")
    request_id: str | None = Field(default=None, max_length=128)


class ConflictAnswer(ErrorAnswer):
    """409: the event_id is already stored with different data; the stored document is kept and shown."""

    document: StoredPrediction | StoredCorrection


def _flat_field(spec: FieldSpec) -> tuple[type, Any]:
    """One house field of a flat item, with the rule table's type and range."""
    if spec.is_text:
        return str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, title=spec.label, examples=[spec.example])
    number = int if spec.kind == "int" else float
    if spec.exclusive_minimum:
        return number, Field(title=spec.label, examples=[spec.example], gt=spec.minimum, le=spec.maximum)
    return number, Field(title=spec.label, examples=[spec.example], ge=spec.minimum, le=spec.maximum)


def _flat_house() -> type[Payload]:
    fields: dict[str, Any] = {spec.name: _flat_field(spec) for spec in INPUT_FIELDS}
    return create_model(
        "FlatHouse", __base__=Payload, __doc__="The 16 house fields, at the top level of an item.", **fields
    )


if TYPE_CHECKING:  # made at run time from the rule table: to mypy, a Payload without the 16 fields
    FlatHouse = Payload
else:
    FlatHouse = _flat_house()


class RetrieveItem(FlatHouse):
    """One document of `/retrieve/<collection>`, flat as the seed's history page reads it."""

    price: Price = Field(description="Predictions: the predicted price; corrections: the real price")
    event_id: Identifier
    created_at: Timestamp
    cursor: Cursor
    model: ModelRef | None = Field(description="The model that made the (estimated) price; null when unknown")
    predicted_price: Price | None = Field(default=None, description="Corrections only: the estimate, if known")
    prediction_event_id: Identifier | None = Field(
        default=None, description="Corrections only: event_id of the corrected prediction, if known"
    )


class RetrieveAnswer(Payload):
    """`GET /retrieve/<collection>`: one page, newest first."""

    success: Literal[True]
    collection: TableName
    count: int = Field(ge=0, le=MAX_PAGE_SIZE, description="Items in this page")
    data: list[RetrieveItem] = Field(max_length=MAX_PAGE_SIZE)
    next_cursor: Cursor | None = Field(description="Pass as `after` for the next (older) page; null on the last")
    has_more: bool


class CorrectionsItem(Payload):
    """One correction of the `/corrections` feed (what the data job turns into a training row)."""

    cursor: Cursor
    event_id: Identifier
    record: HouseRecord
    corrected_price: Price
    predicted_price: Price | None
    created_at: Timestamp


class CorrectionsAnswer(Payload):
    """`GET /corrections`: corrections oldest first, strictly after `after`."""

    items: list[CorrectionsItem] = Field(max_length=MAX_PAGE_SIZE)
    next_cursor: Cursor | None = Field(description="Where the next call starts (the given `after` when empty)")
    has_more: bool


class ReadinessAnswer(Payload):
    """`GET /readyz` and `GET /health`: 200 when the database answers, 503 (with the reason) when not."""

    status: Literal["ready", "unavailable"]
    backend: Literal["sqlite", "mongodb"]
    error: Message | None = None
