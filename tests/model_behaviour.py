"""Behavioural checks of a price model, shared by the model-tier tests (imported explicitly:
`from tests import model_behaviour as behaviour`).

Directional: on many real houses, a change that makes a house more desirable must raise its predicted price:
- 10% more living area (sqft_above grows by the same square feet, so sqft_above <= sqft_living still holds
  and the basement is unchanged);
- waterfront 0 -> 1 (houses not on the water);
- condition one step better (houses below the top condition).
The criterion is robust rather than per-house: the median relative change is at least +1%, and at most 10%
of the houses fall by more than 1%. Tree ensembles are piecewise constant and not monotone, so a house next
to a split can dip a little when its area grows (gradient boosting: 3-5% of the sample houses fall by more
than 1%); the median ignores those, and the 1% tolerance ignores steps that small. The 10% bound fails a
model whose prices go the wrong way for many houses, the +1% floor one that ignores the feature or barely
moves: the shipped families move by +2% to +47%, the same families trained on shuffled prices by -4% to 0%.

Invariance: the price must not change at all when a text field's letter case or spacing changes (leading,
trailing or repeated inner spaces): the serving app receives text as people type it.

A model is any `predict(frame) -> prices` callable, so the same checks run on a freshly fitted family, on a
registered champion loaded back from MLflow, and on deliberately broken models (which they must fail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.schema import FIELD_NAMES, TEXT_FIELDS, validate_records

Predict = Callable[[pd.DataFrame], np.ndarray]

MIN_MEDIAN_RISE = 0.01  # the median house's price must rise by at least 1%
FALL_TOLERANCE = 0.01  # a fall of at most 1% is a tree's step, not a wrong direction
MAX_SHARE_FALLING = 0.10  # at most 10% of the houses may fall by more than FALL_TOLERANCE
SQFT_GROWTH = 0.10


@dataclass(frozen=True)
class Effect:
    """What one directional change did to the predicted prices of the houses it applies to."""

    check: str
    houses: int
    median_change: float  # relative: 0.05 is +5%
    share_falling: float  # of the houses, those whose price fell by more than FALL_TOLERANCE

    @property
    def holds(self) -> bool:
        return self.median_change >= MIN_MEDIAN_RISE and self.share_falling <= MAX_SHARE_FALLING

    def __str__(self) -> str:
        return (
            f"{self.check}: median change {self.median_change:+.2%}, {self.share_falling:.1%} of {self.houses} "
            f"houses fall by more than {FALL_TOLERANCE:.0%}"
        )


@dataclass(frozen=True)
class Change:
    """A change that makes a house more desirable: the fields it changes, and the houses before and after it
    (only those it applies to)."""

    fields: tuple[str, ...]
    apply: Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]


def _bigger(houses: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    added = (houses["sqft_living"] * SQFT_GROWTH).round().astype(houses["sqft_living"].dtype)
    return houses, houses.assign(sqft_living=houses["sqft_living"] + added, sqft_above=houses["sqft_above"] + added)


def _on_the_water(houses: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    before = houses[houses["waterfront"] == 0]
    return before, before.assign(waterfront=1)


def _better_condition(houses: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    before = houses[houses["condition"] < 5]
    return before, before.assign(condition=before["condition"] + 1)


DIRECTIONAL: dict[str, Change] = {
    f"sqft_living +{SQFT_GROWTH:.0%}": Change(("sqft_living", "sqft_above"), _bigger),
    "waterfront 0->1": Change(("waterfront",), _on_the_water),
    "condition +1": Change(("condition",), _better_condition),
}

TEXT_VARIANTS: dict[str, Callable[[str], str]] = {
    "upper case": str.upper,
    "lower case": str.lower,
    "padded": lambda text: f"  {text}   ",
    "inner spaces repeated": lambda text: text.replace(" ", "   "),
}


def assert_valid_houses(houses: pd.DataFrame) -> None:
    """Every house passes the schema's rules (including sqft_above <= sqft_living): a check that fed the
    model impossible houses would prove nothing."""
    errors = validate_records(houses.loc[:, list(FIELD_NAMES)].to_dict(orient="records")).errors
    assert not errors, f"{len(errors)} changed houses break the schema, e.g. {next(iter(errors.values()))}"


def effect(predict: Predict, check: str, houses: pd.DataFrame) -> Effect:
    before, after = DIRECTIONAL[check].apply(houses)
    assert len(before) > 0, f"{check}: no house to change"
    assert_valid_houses(after)
    change = predict(after) / predict(before) - 1.0
    return Effect(check, len(before), float(np.median(change)), float(np.mean(change < -FALL_TOLERANCE)))


def directional_effects(predict: Predict, houses: pd.DataFrame) -> list[Effect]:
    return [effect(predict, check, houses) for check in DIRECTIONAL]


def invariance_breaks(predict: Predict, houses: pd.DataFrame) -> dict[str, int]:
    """For each (text field, variant) that changed any price: how many houses' prices changed. Empty when the
    model is invariant. Prices must be identical, not close: the text only selects hash buckets."""
    base = predict(houses)
    breaks = {}
    for field in TEXT_FIELDS:
        for name, variant in TEXT_VARIANTS.items():
            changed = houses.assign(**{field: houses[field].map(variant)})
            moved = int(np.sum(predict(changed) != base))
            if moved:
                breaks[f"{field} {name}"] = moved
    return breaks
