"""The reference profile of a model version's training data: how its houses were spread over bins, per input field.

The trainer computes it (`common.drift.reference_profile`) and logs it as an artifact of the run that registered
the version (`common.registry.log_profile`); mlapp reads it when it loads that version and compares the houses it
is asked to price with it (population stability index per field, `common.drift.psi`).
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Literal

from pydantic import Field, model_validator

from common.contracts.base import Payload

SHARE_TOLERANCE = 1e-6  # shares are rounded floats: they add up to 1 within this


def _check_shares(shares: list[float], bins: int, what: str) -> None:
    if len(shares) != bins:
        raise ValueError(f"{what}: {len(shares)} shares for {bins} bins")
    if any(not math.isfinite(s) or s < 0 for s in shares) or abs(sum(shares) - 1) > SHARE_TOLERANCE:
        raise ValueError(f"{what}: shares must be non-negative and add up to 1")


class NumericBins(Payload):
    """Bins of a numeric field, open at both ends: bin 0 holds x <= edges[0], bin i holds edges[i-1] < x <= edges[i],
    the last holds x > edges[-1]."""

    edges: list[float] = Field(min_length=1, description="Ascending cut points (quantiles of the training rows)")
    shares: list[float] = Field(description="Share of the training rows in each bin: one more than the edges")

    @model_validator(mode="after")
    def _consistent(self) -> NumericBins:
        if any(not math.isfinite(e) for e in self.edges) or any(a >= b for a, b in pairwise(self.edges)):
            raise ValueError("edges must be finite and strictly ascending")
        _check_shares(self.shares, len(self.edges) + 1, "numeric bins")
        return self


class CategoryShares(Payload):
    """The most frequent values of a text field, and "other" for every value not listed (unseen ones included)."""

    categories: list[str] = Field(description="Values as `common.location_encoding.normalised_text` gives them")
    shares: list[float] = Field(description="Share of the training rows per category, then the share of other")

    @model_validator(mode="after")
    def _consistent(self) -> CategoryShares:
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must be distinct")
        _check_shares(self.shares, len(self.categories) + 1, "categories")
        return self


class ReferenceProfile(Payload):
    """`reference_profile.json` of a model version: per profiled field, its bins and the training rows' shares."""

    profile_version: Literal[1] = 1
    rows: int = Field(ge=1, description="Training rows the shares were counted on")
    numeric: dict[str, NumericBins]
    categorical: dict[str, CategoryShares]

    @property
    def features(self) -> tuple[str, ...]:
        """The profiled fields in their fixed order: numeric ones, then text ones."""
        return (*self.numeric, *self.categorical)
