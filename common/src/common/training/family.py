"""Model families: one folder per family under `models/`, each with a `family.py` that declares the estimator.

    models/gradient_boosting/family.py
        PARAMS = {"max_iter": 150, ...}            # logged to MLflow as model.<name>
        FEATURES = {"statezip_buckets": 128}       # optional: HouseFeatures arguments, logged as features.<name>
        def build_estimator(**params): ...         # called as build_estimator(**PARAMS); returns a regressor

The folder name is the family name and the MLflow experiment name, so adding a folder adds an experiment.
A family uses only classes that skops can load back (sklearn, numpy, and `common.registry.TRUSTED_TYPES`).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAMILY_FILE = "family.py"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class FamilyError(ValueError):
    """A family folder or declaration cannot be used; the message names the folder and the problem."""


@dataclass(frozen=True)
class FamilySpec:
    name: str
    build_estimator: Callable[..., Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    features: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise FamilyError(
                f"family name {self.name!r} must be lower-case letters, digits and underscores, starting with a letter"
            )

    def estimator(self) -> Any:
        return self.build_estimator(**self.params)


def load_family(folder: Path) -> FamilySpec:
    """Import `folder/family.py` and return its declaration."""
    path = folder / FAMILY_FILE
    if not path.is_file():
        raise FamilyError(f"{folder}: no {FAMILY_FILE} in this folder")
    module_name = f"house_price_family_{folder.name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FamilyError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise FamilyError(f"{path}: importing it failed: {exc!r}") from exc
    build = getattr(module, "build_estimator", None)
    if not callable(build):
        raise FamilyError(f"{path}: must define build_estimator(**PARAMS)")
    params = getattr(module, "PARAMS", {})
    features = getattr(module, "FEATURES", {})
    for label, value in (("PARAMS", params), ("FEATURES", features)):
        if not isinstance(value, Mapping):
            raise FamilyError(f"{path}: {label} must be a dict, got {type(value).__name__}")
    doc = (module.__doc__ or "").strip()
    return FamilySpec(
        name=folder.name,
        build_estimator=build,
        params=dict(params),
        features=dict(features),
        description=doc.splitlines()[0] if doc else "",
    )


def discover_families(models_dir: Path) -> dict[str, FamilySpec]:
    """Every family folder directly under `models_dir` (folders without `family.py` are not families)."""
    if not models_dir.is_dir():
        raise FamilyError(f"models folder {models_dir} does not exist (set MODELS_DIR)")
    folders = sorted(p for p in models_dir.iterdir() if p.is_dir() and (p / FAMILY_FILE).is_file())
    return {folder.name: load_family(folder) for folder in folders}
