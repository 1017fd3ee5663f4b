"""The shared trainer: model families declare an estimator, this package does everything else."""

from common.training.config import TrainerConfig
from common.training.evaluation import Evaluation, evaluate, median_baseline_mae
from common.training.family import FamilyError, FamilySpec, discover_families, load_family
from common.training.promotion import ChampionScore, Decision, decide_promotion
from common.training.steps.fit import build_pipeline
from common.training.trainer import TrainResult, train_family

__all__ = [
    "ChampionScore",
    "Decision",
    "Evaluation",
    "FamilyError",
    "FamilySpec",
    "TrainResult",
    "TrainerConfig",
    "build_pipeline",
    "decide_promotion",
    "discover_families",
    "evaluate",
    "load_family",
    "median_baseline_mae",
    "train_family",
]
