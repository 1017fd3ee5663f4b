"""mlapp's JSON API: `/predict`, `/predict/batch`, `/model-info` and its probes."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, RootModel

from common.contracts.base import Payload
from common.contracts.house import HouseRecord, ModelRef

MAX_BATCH_RECORDS = 10_000  # the default of MAX_BATCH_RECORDS; a batch of 10,000 houses is about 5 MB of JSON


class PredictBody(RootModel[HouseRecord]):
    """One house: the 16 fields."""


class Prediction(Payload):
    """The price of one house and the model that computed it."""

    result: float = Field(gt=0, allow_inf_nan=False, strict=True, description="Predicted price in USD")
    model: ModelRef


class BatchBody(Payload):
    """Many houses at once; the whole batch is refused when any record is invalid."""

    records: list[dict[str, Any]] = Field(max_length=MAX_BATCH_RECORDS, description="House records (HouseRecord)")


class BatchPrediction(Payload):
    """One price per record, in the order sent."""

    results: list[float]
    model: ModelRef


class BatchInvalid(Payload):
    """A batch with invalid records: `records` maps a record's index to its field errors (at most 100 listed)."""

    error: str
    records: dict[str, dict[str, str]] = Field(default_factory=dict)
    invalid_count: int | None = None
    fields: dict[str, str] | None = None


class LastCheck(Payload):
    at: str | None
    trigger: str | None
    outcome: str | None
    detail: str | None


class ModelInfo(Payload):
    """The serving model: registry facts and tags (holdout metrics, dataset version, promotion reason...)."""

    model_config = ConfigDict(extra="allow", frozen=True)  # tags are open-ended: every tag the trainer wrote
    name: str
    version: int
    family: str | None = None
    alias: str
    loaded_at: str
    load_seconds: float
    compiled_predict: bool
    last_check: LastCheck


class Ready(Payload):
    """`/readyz` and `/health`: a model is loaded and serving."""

    status: str = Field(description='"ready"')
    model: ModelRef


class NotReady(Payload):
    """`/readyz` and `/health` before a model is loaded."""

    status: str = Field(description='"unavailable"')
    error: str
