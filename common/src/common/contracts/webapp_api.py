"""webapp's JSON API for programs (`/api/...`): bodies and answers."""

from __future__ import annotations

from pydantic import Field, RootModel

from common.contracts.base import Payload
from common.contracts.house import HouseRecord, ModelRef
from common.contracts.store import CorrectionDocument


class ApiPredictBody(RootModel[HouseRecord]):
    """One house: the 16 fields."""


class ApiPrediction(Payload):
    """The price, the model that computed it, and the id of the recorded prediction (send it with a correction)."""

    result: float = Field(gt=0, allow_inf_nan=False, strict=True, description="Predicted price in USD")
    model: ModelRef
    event_id: str = Field(description="The prediction's event id")


class CorrectionBody(CorrectionDocument):
    """The real price of a house, optionally tied to the prediction it corrects (what dbapp stores)."""


class CorrectionAccepted(Payload):
    """The correction was published; it is stored shortly after (see dbapp)."""

    event_id: str
