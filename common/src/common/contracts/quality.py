"""How well each model version does: its live error on real houses (dbapp's `GET /quality`), its facts in the
model registry (mlapp's `GET /model-versions`), and both joined (webapp's `GET /api/models`).

The live MAE of a version is the mean of |corrected price - predicted price| over the corrections of
predictions that version made (see dbapp's README for which corrections count).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, RootModel

from common.contracts.base import Payload

MAX_VERSIONS = 1000  # the newest versions listed; older ones are left out
Status = Literal["champion", "challenger", "retired"]
Outcome = Literal["promoted", "rejected", "deferred"]

Family = Annotated[
    Annotated[str, Field(max_length=64)] | None,
    Field(description="Model family (a folder under models/); null when unknown"),
]
Version = Annotated[int, Field(ge=1, le=2**31 - 1, description="Registered model version")]


class LiveQuality(Payload):
    """The live error of one (family, version) over the corrections of its predictions."""

    family: Family
    version: Version
    live_mae: float = Field(ge=0, allow_inf_nan=False, description="Mean |corrected - predicted| price in USD")
    live_corrections: int = Field(ge=1, description="Corrections behind live_mae")


class LiveQualityAnswer(Payload):
    """`GET /quality` (dbapp): every (family, version) that has at least one usable correction."""

    models: list[LiveQuality]


class PromotionDecision(Payload):
    """The promotion decision the trainer recorded for a version (its `promotion_*` tags)."""

    outcome: Outcome = Field(description="promoted, rejected, or deferred (the next run decides again)")
    reason: str | None = Field(default=None, max_length=2000, description="Why, in the trainer's words")
    compared_with_version: int | None = Field(default=None, ge=1, description="The champion it was compared with")


class RegistryVersion(Payload):
    """One version of the registered model, as its tags and the champion alias describe it.

    `status`: champion = the version the champion alias names; challenger = still in contention (no decision
    recorded yet, or a deferred one the next training run takes again); retired = everything else (rejected, or
    promoted once and replaced since)."""

    family: Family
    version: Version
    dataset_version: int | None = Field(default=None, ge=0, description="The dataset version it learnt from")
    holdout_mae: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Offline MAE in USD")
    status: Status
    decision: PromotionDecision | None = Field(description="null while no decision is recorded")
    registered_at: str | None = Field(default=None, max_length=40, description="When it was registered (ISO 8601)")


class RegistryVersionsAnswer(Payload):
    """`GET /model-versions` (mlapp): the newest `MAX_VERSIONS` versions of the registered model, newest first."""

    name: str = Field(max_length=128, description="The registered model")
    alias: str = Field(max_length=128, description="The alias that names the champion")
    champion_version: int | None = Field(ge=1, description="The version the alias names; null when none")
    versions: list[RegistryVersion] = Field(max_length=MAX_VERSIONS)


class ModelVersionQuality(RegistryVersion):
    """A version with its live error; `live_mae` is null while no correction of its predictions is stored."""

    live_mae: float | None = Field(ge=0, allow_inf_nan=False, description="Mean |corrected - predicted| in USD")
    live_corrections: int = Field(ge=0, description="Corrections behind live_mae")


class ModelsAnswer(RootModel[list[ModelVersionQuality]]):
    """`GET /api/models` (webapp): every family's versions, newest first, with holdout and live MAE."""
