"""The data of each event type on the bus, and the envelope around it (`common.events.Event` reads and writes
envelopes; producers build the data with these models, consumers get it validated by `Event.from_json`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from common.contracts.base import Payload
from common.contracts.store import CorrectionDocument, PredictionDocument


class Envelope(Payload):
    """`{"event_id", "type", "schema_version", "occurred_at", "data"}`: consumers upsert by `event_id`."""

    event_id: UUID
    type: Literal[
        "prediction.made", "correction.submitted", "dataset.version.committed", "model.promoted", "traffic.shifted"
    ]
    schema_version: Literal[1]
    occurred_at: datetime
    data: dict[str, Any]


# A prediction or correction event carries exactly what dbapp stores.
PredictionMade = PredictionDocument
CorrectionSubmitted = CorrectionDocument


class DatasetVersionCommitted(Payload):
    """The data job committed a dataset version (topic `dataset-versions`)."""

    version: int = Field(ge=1)
    rows: dict[str, int] = Field(description='Rows per split, e.g. {"train": 2709, "valid": 683}')
    manifest: str = Field(min_length=1, max_length=2048, description="URL of the version's manifest")


class ModelPromoted(Payload):
    """A model version became the champion (topic `model-promotions`)."""

    name: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)
    family: str | None = Field(default=None, max_length=64)
    dataset_version: int | None = None
    holdout_mae: float | None = None
    previous_version: int | None = None


REGION_NAME = r"^[a-z][a-z0-9-]{0,39}$"
RegionHealth = Literal["healthy", "degraded", "unhealthy"]


class TrafficShifted(Payload):
    """The failover controller changed how traffic is split between the regions (topic `region-events`).

    `drain`: a degraded region's weight was lowered (`source_region`); `restore`: it went back after enough
    healthy checks; `failover`: the active region became unhealthy and `target_region` took its traffic;
    `failback`: the primary, healthy again for long enough, took its traffic back from `source_region`."""

    action: Literal["drain", "restore", "failover", "failback"]
    source_region: str = Field(pattern=REGION_NAME)
    target_region: str | None = Field(default=None, pattern=REGION_NAME)
    weights: dict[str, int] = Field(description="Weight per region after the change (0-256, HAProxy's scale)")
    previous_weights: dict[str, int]
    health: dict[str, RegionHealth] = Field(description="Each region's score at the check that decided")
    reason: str = Field(min_length=1, max_length=500)


EVENT_DATA: dict[str, type[Payload]] = {
    "prediction.made": PredictionMade,
    "correction.submitted": CorrectionSubmitted,
    "dataset.version.committed": DatasetVersionCommitted,
    "model.promoted": ModelPromoted,
    "traffic.shifted": TrafficShifted,
}
