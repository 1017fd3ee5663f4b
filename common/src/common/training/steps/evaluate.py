"""Step 3: the fitted pipeline scored on its train rows and on the holdout, the bar it must clear (predicting the
training median), and its compiled serving form checked against its own predictions on the holdout."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from common.compiled import Compiled, compile_checked
from common.training.evaluation import Evaluation, evaluate, median_baseline_mae
from common.training.job import Job
from common.training.steps.fit import Fitted
from common.training.steps.load import Dataset

log = logging.getLogger(__name__)


MAX_CHECKED_ROWS = 100_000  # holdout rows the compiled form is checked on (a sample when there are more)


@dataclass(frozen=True)
class Scores:
    train: Evaluation
    holdout: Evaluation
    baseline_mae: float  # MAE on the holdout of predicting the training median
    serving: Compiled  # the compiled single-row form and its check (`common.compiled`)


def check_serving_form(fitted: Fitted, data: Dataset) -> Compiled:
    """The regressor compiled as mlapp will compile it, and checked on the holdout's feature rows (and on rows at
    both sides of its split thresholds) against the regressor's own predictions."""
    features, regressor = fitted.pipeline.named_steps["features"], fitted.pipeline.named_steps["model"]
    holdout = data.holdout.x
    if len(holdout) > MAX_CHECKED_ROWS:
        holdout = holdout.sample(MAX_CHECKED_ROWS, random_state=0)
    return compile_checked(regressor, features.transform(holdout))


def evaluate_fit(fitted: Fitted, data: Dataset, job: Job) -> Scores:
    scores = Scores(
        train=evaluate(data.train.y, fitted.pipeline.predict(data.train.x)),
        holdout=evaluate(data.holdout.y, fitted.pipeline.predict(data.holdout.x)),
        baseline_mae=median_baseline_mae(data.train.y, data.holdout.y),
        serving=check_serving_form(fitted, data),
    )
    # One entry for the fit and its scores: `seconds` is the fit's (the bench reads this entry).
    log.info(
        "fitted",
        extra=job.extra(
            seconds=fitted.seconds,
            train_mae=scores.train.mae,
            holdout_mae=scores.holdout.mae,
            baseline_median_mae=scores.baseline_mae,
            serving_form=scores.serving.verdict.value,
            serving_check=scores.serving.detail,
        ),
    )
    return scores
