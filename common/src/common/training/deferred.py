"""A promotion decision deferred by an infrastructure fault is taken again by the next run on the same dataset
version, for the model version already registered: the run that registered it finished (so the trainer would
otherwise skip the dataset version for good), and nothing about the candidate needs retraining.

The candidate's holdout scores are read back from its run: the holdout is the same (committed dataset
versions never change), so only the champion is scored again.
"""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import Run

from common import registry
from common.compiled import Verdict
from common.training.evaluation import Evaluation
from common.training.job import Job
from common.training.promotion import DEFERRED
from common.training.steps.register import Candidate


def is_deferred(run: Run) -> bool:
    return run.data.tags.get(registry.TAG_DECISION) == DEFERRED


def registered_version(client: MlflowClient, model_name: str, run_id: str) -> int | None:
    """The version of `model_name` that `run_id` registered (the trainer registers one per run)."""
    found = client.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    return max((int(v.version) for v in found), default=None)


def logged_candidate(job: Job, run: Run, model_version: int) -> Candidate:
    """The candidate as its run logged it. A decision is deferred only for a candidate that passed its own
    sanity checks (they come before the champion's in `decide_promotion`), so its predictions were finite
    and positive."""
    metrics = run.data.metrics
    holdout = Evaluation(
        rows=int(metrics["holdout_rows"]),
        mae=metrics["holdout_mae"],
        rmse=metrics["holdout_rmse"],
        r2=metrics["holdout_r2"],
        non_finite=0,
        non_positive=0,
    )
    serving_form = Verdict(run.data.tags.get(registry.TAG_SERVING_FORM, Verdict.NOT_COMPILED))
    return Candidate(job, model_version, run.info.run_id, holdout, metrics["baseline_median_mae"], serving_form)
