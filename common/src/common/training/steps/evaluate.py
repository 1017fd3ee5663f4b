"""Step 3: the fitted pipeline scored on its train rows and on the holdout, and the bar it must clear
(predicting the training median)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from common.training.evaluation import Evaluation, evaluate, median_baseline_mae
from common.training.job import Job
from common.training.steps.fit import Fitted
from common.training.steps.load import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    train: Evaluation
    holdout: Evaluation
    baseline_mae: float  # MAE on the holdout of predicting the training median


def evaluate_fit(fitted: Fitted, data: Dataset, job: Job) -> Scores:
    scores = Scores(
        train=evaluate(data.train.y, fitted.pipeline.predict(data.train.x)),
        holdout=evaluate(data.holdout.y, fitted.pipeline.predict(data.holdout.x)),
        baseline_mae=median_baseline_mae(data.train.y, data.holdout.y),
    )
    # One entry for the fit and its scores: `seconds` is the fit's (the bench reads this entry).
    log.info(
        "fitted",
        extra=job.extra(
            seconds=fitted.seconds,
            train_mae=scores.train.mae,
            holdout_mae=scores.holdout.mae,
            baseline_median_mae=scores.baseline_mae,
        ),
    )
    return scores
