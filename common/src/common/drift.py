"""Input drift: a reference profile of the training houses, the bins a house falls in, and the population
stability index (PSI) of recent houses against the profile. The trainer profiles its training rows; mlapp bins
every house it prices with the same `Binner` and computes the PSI, so both sides count alike.

- Numeric fields: `NUMERIC_BINS` quantile bins of the training rows, open at both ends (a value beyond anything
  seen in training falls in the first or last bin). Quantiles are taken as data values and deduplicated, so a
  field with few distinct values (waterfront, view, condition) gets one bin per value instead of empty bins.
- Text fields: the `MAX_CATEGORIES` most frequent values (normalised as the features normalise them) and "other".
  `street` is not profiled: nearly every house has its own, so its distribution would be all "other".
- PSI = sum over bins of (actual - expected) * ln(actual / expected), shares floored at `SHARE_FLOOR` so that an
  empty bin on either side counts as rare rather than infinite. Below 0.1 is usually read as stable, above 0.25
  as a shift worth a look.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.contracts.drift import CategoryShares, NumericBins, ReferenceProfile
from common.location_encoding import normalised_text
from common.schema import NUMERIC_FIELDS

NUMERIC_BINS = 10
MAX_CATEGORIES = 20
PROFILED_TEXT: tuple[str, ...] = ("city", "statezip", "country")
SHARE_FLOOR = 1e-4


def quantile_edges(values: np.ndarray, bins: int = NUMERIC_BINS) -> list[float]:
    """The distinct inner quantiles of `values` (bins - 1 of them at most), each one a value of the data."""
    levels = np.arange(1, bins) / bins
    return [float(e) for e in np.unique(np.quantile(values, levels, method="inverted_cdf"))]


def top_categories(values: Sequence[Any], limit: int = MAX_CATEGORIES) -> list[str]:
    """The `limit` most frequent normalised values, most frequent first (ties by value, so the order is stable)."""
    counts = Counter(normalised_text(v) for v in values)
    return [value for value, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]]


@dataclass(frozen=True)
class Binner:
    """A profile's bins in the form lookups need: edges as lists (for `bisect`), categories as a dict."""

    numeric: tuple[tuple[str, list[float]], ...]
    categorical: tuple[tuple[str, dict[str, int], int], ...]  # (field, value -> bin, the "other" bin)

    @classmethod
    def of(cls, profile: ReferenceProfile) -> Binner:
        return cls.from_bins(
            {name: bins.edges for name, bins in profile.numeric.items()},
            {name: shares.categories for name, shares in profile.categorical.items()},
        )

    @classmethod
    def from_bins(cls, edges: Mapping[str, Sequence[float]], categories: Mapping[str, Sequence[str]]) -> Binner:
        return cls(
            tuple((name, list(e)) for name, e in edges.items()),
            tuple((name, {value: i for i, value in enumerate(c)}, len(c)) for name, c in categories.items()),
        )

    @property
    def sizes(self) -> list[int]:
        """Bins per field, in the profile's field order."""
        return [len(edges) + 1 for _, edges in self.numeric] + [other + 1 for _, _, other in self.categorical]

    def bins_one(self, record: Mapping[str, Any]) -> list[int]:
        """The bin of each profiled field of one validated house: plain Python, a few hundred nanoseconds a field."""
        found = [bisect_left(edges, record[name]) for name, edges in self.numeric]
        found += [lookup.get(normalised_text(record[name]), other) for name, lookup, other in self.categorical]
        return found

    def bins_columns(self, columns: Mapping[str, Any], rows: slice = slice(None)) -> np.ndarray:
        """The bins of many houses given column by column (`rows` of each column): an (n, fields) int array."""
        found = [np.searchsorted(edges, np.asarray(columns[name])[rows], side="left") for name, edges in self.numeric]
        for name, lookup, other in self.categorical:
            values = np.asarray(columns[name], dtype=object)[rows].tolist()
            of = {v: lookup.get(normalised_text(v), other) for v in set(values)}  # each distinct value once
            found.append(np.fromiter(map(of.__getitem__, values), np.int64, len(values)))
        return np.column_stack(found)


def reference_profile(columns: Mapping[str, Any]) -> ReferenceProfile:
    """The profile of the training rows (a DataFrame, or any mapping of field -> column, with every input field)."""
    numeric = {name: np.asarray(columns[name], dtype=np.float64) for name in NUMERIC_FIELDS}
    rows = len(next(iter(numeric.values())))
    if rows == 0:
        raise ValueError("a reference profile needs at least one training row")
    edges = {name: quantile_edges(values) for name, values in numeric.items()}
    categories = {name: top_categories(list(columns[name])) for name in PROFILED_TEXT}
    binner = Binner.from_bins(edges, categories)
    shares = np.split(bin_counts(binner.bins_columns(columns), binner.sizes) / rows, _starts(binner.sizes)[1:])
    found = dict(zip([*edges, *categories], (s.tolist() for s in shares), strict=True))
    return ReferenceProfile(
        rows=rows,
        numeric={name: NumericBins(edges=e, shares=found[name]) for name, e in edges.items()},
        categorical={name: CategoryShares(categories=c, shares=found[name]) for name, c in categories.items()},
    )


def bin_counts(bins: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Houses per bin from an (n, fields) array of bins: every field's bins one after the other (`sizes` bins each),
    counted with one `bincount`."""
    return np.bincount((bins + _starts(sizes)).ravel(), minlength=int(sum(sizes)))


def expected_shares(profile: ReferenceProfile) -> np.ndarray:
    """The profile's shares, every field's bins one after the other in the profile's field order."""
    shares = [bins.shares for bins in profile.numeric.values()]
    shares += [categories.shares for categories in profile.categorical.values()]
    return np.concatenate([np.asarray(s, dtype=np.float64) for s in shares])


def field_psi(expected: np.ndarray, counts: np.ndarray, sizes: Sequence[int]) -> np.ndarray | None:
    """The population stability index of each field: houses counted per bin (`counts`) against the reference
    shares (`expected`), both laid out field after field (`sizes` bins each), computed for every field at once.
    None when nothing was counted (an empty window has no distribution to compare)."""
    total = int(counts[: sizes[0]].sum())  # every field counts every house once
    if total == 0:
        return None
    actual = np.maximum(counts / total, SHARE_FLOOR)
    reference = np.maximum(expected, SHARE_FLOOR)
    terms = (actual - reference) * np.log(actual / reference)
    return np.add.reduceat(terms, _starts(sizes))


def psi(expected: np.ndarray, counts: np.ndarray) -> float | None:
    """The population stability index of one field (see `field_psi`)."""
    found = field_psi(expected, counts, [len(expected)])
    return None if found is None else float(found[0])


def _starts(sizes: Sequence[int]) -> np.ndarray:
    """Where each field's bins start when every field's bins are laid one after the other."""
    return np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
