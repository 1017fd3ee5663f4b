"""Compare the platform's champion with the seed system's method on the sample data.

The seed's method: LinearRegression on the 12 numeric fields + 40 hashed features (FeatureHasher over street,
city, statezip, country), trained on the raw rows with no cleaning (price-0 rows included).
The platform: every family under models/ (the same Pipeline the trainer builds), trained on the rows that
pass `common.schema` validation, exactly as versioned data would hold them; the champion is the family with
the lowest holdout MAE (the promotion rule).

Both are scored on the same held-out rows: a random 20% of the file, keeping the rows that pass validation
(a price of 0 is not a price to predict). Several random splits; the summary is over all of them.

    .venv/bin/python scripts/compare_seed_baseline.py [--csv sample_dataset/data.csv] [--splits 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

from common.jsonlog import configure_logging
from common.schema import NUMERIC_FIELDS, TEXT_FIELDS, RecordInvalid, validate_record
from common.training import build_pipeline, discover_families, evaluate

log = logging.getLogger("compare-seed-baseline")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO / "sample_dataset" / "data.csv"
HOLDOUT_FRACTION = 0.2
SEED_HASH_FEATURES = 40


def seed_features(frame: pd.DataFrame) -> np.ndarray:
    """The seed's feature matrix: 12 numeric columns as they are, plus 40 hashed text features."""
    hasher = FeatureHasher(n_features=SEED_HASH_FEATURES, input_type="dict")
    hashed = hasher.transform(frame.loc[:, list(TEXT_FIELDS)].astype(str).to_dict("records")).toarray()
    return np.hstack([frame.loc[:, list(NUMERIC_FIELDS)].to_numpy(dtype=np.float64), hashed])


def validated(raw: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Typed rows that pass validation (what a dataset version would hold) and the mask of those rows."""
    rows, keep = [], np.zeros(len(raw), dtype=bool)
    for i, record in enumerate(raw.to_dict("records")):
        try:
            rows.append(validate_record(record, require_price=True))
            keep[i] = True
        except RecordInvalid:
            pass
    return pd.DataFrame(rows), keep


@dataclass
class SplitResult:
    seed: int
    holdout_rows: int
    seed_mae: float
    family_mae: dict[str, float] = field(default_factory=dict)

    @property
    def champion(self) -> str:
        return min(self.family_mae, key=lambda name: self.family_mae[name])

    @property
    def champion_mae(self) -> float:
        return self.family_mae[self.champion]

    @property
    def improvement(self) -> float:
        return 1.0 - self.champion_mae / self.seed_mae


@dataclass
class Comparison:
    splits: list[SplitResult]

    @property
    def seed_mae(self) -> float:
        return float(np.mean([s.seed_mae for s in self.splits]))

    @property
    def champion_mae(self) -> float:
        return float(np.mean([s.champion_mae for s in self.splits]))

    @property
    def improvement(self) -> float:
        return 1.0 - self.champion_mae / self.seed_mae

    @property
    def worst_improvement(self) -> float:
        return min(s.improvement for s in self.splits)


def compare(csv_path: Path = DEFAULT_CSV, models_dir: Path | None = None, splits: int = 5) -> Comparison:
    raw = pd.read_csv(csv_path)
    clean, valid = validated(raw)
    clean_index = np.cumsum(valid) - 1  # position of a valid raw row within `clean`
    families = discover_families(models_dir or Path(os.environ.get("MODELS_DIR", REPO / "models")))
    results = []
    with threadpool_limits(limits=1, user_api="openmp"):
        for seed in range(splits):
            order = np.random.default_rng(seed).permutation(len(raw))
            cut = round(len(raw) * HOLDOUT_FRACTION)
            held, trained = order[:cut], order[cut:]
            held_valid = held[valid[held]]
            y_holdout = raw["price"].to_numpy(dtype=np.float64)[held_valid]

            seed_model = LinearRegression().fit(seed_features(raw.iloc[trained]), raw["price"].iloc[trained])
            seed_eval = evaluate(y_holdout, seed_model.predict(seed_features(raw.iloc[held_valid])))
            result = SplitResult(seed, len(held_valid), seed_eval.mae)

            train = clean.iloc[clean_index[trained[valid[trained]]]]
            holdout = clean.iloc[clean_index[held_valid]]
            for name, spec in families.items():
                pipeline = build_pipeline(spec).fit(train, train["price"])
                scored = evaluate(holdout["price"].to_numpy(), pipeline.predict(holdout))
                if scored.sane:
                    result.family_mae[name] = scored.mae
            results.append(result)
    return Comparison(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args(argv)
    configure_logging("compare-seed-baseline")
    comparison = compare(args.csv, splits=args.splits)
    for s in comparison.splits:
        families = ", ".join(f"{name} {mae:,.0f}" for name, mae in sorted(s.family_mae.items()))
        log.info(
            f"split {s.seed}: {s.holdout_rows} held-out rows | seed method MAE {s.seed_mae:,.0f} | {families} | "
            f"champion {s.champion} {s.improvement:.1%} better"
        )
    log.info(f"seed method MAE (mean over {len(comparison.splits)} splits): {comparison.seed_mae:,.0f}")
    log.info(f"champion MAE    (mean over {len(comparison.splits)} splits): {comparison.champion_mae:,.0f}")
    log.info(f"improvement: {comparison.improvement:.1%} (worst split {comparison.worst_improvement:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
