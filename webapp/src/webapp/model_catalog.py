"""Every model version with its holdout and live MAE: the registry's versions (from mlapp) joined with dbapp's
live quality, for `GET /api/models` and the `/model` page.

A live-quality row belongs to the registry version of the same number (one registered model holds every
family's versions, so a number names one version) unless both name a family and the families differ. Rows of
one version under several family labels (a prediction recorded without its family) are merged, weighted by
their number of corrections.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from common.contracts.quality import LiveQuality, ModelVersionQuality, RegistryVersion, RegistryVersionsAnswer


def _live_by_version(versions: Iterable[RegistryVersion], live: Iterable[LiveQuality]) -> dict[int, tuple[float, int]]:
    """version -> (sum of absolute errors, corrections) of the live rows that belong to it."""
    family = {v.version: v.family for v in versions}
    sums: dict[int, tuple[float, int]] = {}
    for row in live:
        if row.version not in family:
            continue
        if row.family is not None and family[row.version] is not None and row.family != family[row.version]:
            continue
        total, count = sums.get(row.version, (0.0, 0))
        sums[row.version] = (total + row.live_mae * row.live_corrections, count + row.live_corrections)
    return sums


def join(registry: RegistryVersionsAnswer, live: Iterable[LiveQuality] | None) -> list[ModelVersionQuality]:
    """The registry's versions (newest first) with their live MAE; `live` None (dbapp unavailable) leaves every
    live MAE null with 0 corrections."""
    sums = _live_by_version(registry.versions, live or ())
    joined = []
    for version in registry.versions:
        total, count = sums.get(version.version, (0.0, 0))
        live_mae = round(total / count, 2) if count else None
        joined.append(ModelVersionQuality(**version.model_dump(), live_mae=live_mae, live_corrections=count))
    return joined


@dataclass(frozen=True)
class FamilyVersions:
    """One family's versions, newest first, as the page shows them side by side."""

    family: str
    versions: list[ModelVersionQuality]

    @property
    def serving(self) -> bool:
        return any(v.status == "champion" for v in self.versions)


UNNAMED = "unnamed family"


def family_name(version: RegistryVersion) -> str:
    return version.family or UNNAMED


def by_family(versions: Iterable[ModelVersionQuality]) -> list[FamilyVersions]:
    """The champion's family first, then the others by name; each family's versions newest first."""
    grouped: dict[str, list[ModelVersionQuality]] = {}
    for version in versions:
        grouped.setdefault(family_name(version), []).append(version)
    families = [
        FamilyVersions(name, sorted(found, key=lambda v: -v.version)) for name, found in sorted(grouped.items())
    ]
    return sorted(families, key=lambda f: not f.serving)
