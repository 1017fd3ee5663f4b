"""Whether a correction's price is believable enough to train on.

A correction passes the schema's rules (price > 0 and at most 1e9) and still can be a typo or a joke: a
price 100x its estimate, or far outside anything the model was trained on. Such corrections are quarantined
with their reason instead of becoming training rows:

  * corrected > CORRECTION_MAX_FACTOR x predicted, or < predicted / CORRECTION_MAX_FACTOR (when the
    correction carries its predicted price; corrections from the seed system do not);
  * corrected outside [train min / CORRECTION_RANGE_FACTOR, train max x CORRECTION_RANGE_FACTOR], where min
    and max are the train prices of the committed versions. Each manifest records its train split's price
    range when it is committed; versions committed before that was recorded do not count, and with no such
    version only the schema's bounds apply (a fresh platform has no training data to compare with).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common.dataset_versions import Manifest


@dataclass(frozen=True)
class PriceBounds:
    max_factor: float
    low: float | None = None  # allowed corrected prices, from the training data; None: the schema's bounds
    high: float | None = None
    basis: str = ""  # where low/high come from, for the reason

    def problem(self, corrected: float, predicted: Any) -> str | None:
        """Why `corrected` is implausible, or None."""
        if _positive_number(predicted):
            ratio = corrected / float(predicted)
            if ratio > self.max_factor or ratio < 1 / self.max_factor:
                return (
                    f"implausible: corrected price {corrected:,.0f} is {ratio:.3g}x the predicted "
                    f"{float(predicted):,.0f} (CORRECTION_MAX_FACTOR={self.max_factor:g})"
                )
        if self.low is not None and self.high is not None and not self.low <= corrected <= self.high:
            return (
                f"implausible: corrected price {corrected:,.0f} is outside {self.low:,.0f}..{self.high:,.0f} "
                f"({self.basis})"
            )
        return None


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def price_bounds(manifests: Sequence[Manifest], max_factor: float, range_factor: float) -> PriceBounds:
    """The bounds for this run's corrections, from the committed versions' recorded train prices."""
    ranges = [(m.version, m.train_price) for m in manifests if m.train_price]
    if not ranges:
        return PriceBounds(max_factor)
    low = min(r["min"] for _, r in ranges)
    high = max(r["max"] for _, r in ranges)
    versions = [v for v, _ in ranges]
    basis = (
        f"train prices {low:,.0f}..{high:,.0f} of v{versions[0]}..v{versions[-1]} widened by "
        f"CORRECTION_RANGE_FACTOR={range_factor:g}"
    )
    return PriceBounds(max_factor, low / range_factor, high * range_factor, basis)
