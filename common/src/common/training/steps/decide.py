"""Step 5: score the current champion on the candidate's holdout, decide (`decide_promotion`), record the
decision in tags (model version, then run), and move the champion alias for a promotion.

The tags are always written before the alias moves, so a failure in between never leaves a champion whose
tags do not say why it is one. Every write goes through the client, naming the model version and the run."""

from __future__ import annotations

import logging
import time

from mlflow import MlflowClient
from mlflow.entities import RunTag

from common import registry
from common.settings import Settings
from common.training.evaluation import evaluate
from common.training.faults import Stage, classify
from common.training.job import seconds_since
from common.training.promotion import ChampionScore, Decision, decide_promotion
from common.training.steps.load import Rows
from common.training.steps.register import Candidate

log = logging.getLogger(__name__)

PROMOTION_ATTEMPTS = 3


def score_champion(tracking_uri: str, model_name: str, champion_version: int, holdout: Rows) -> ChampionScore:
    """The champion's scores on the holdout; on failure, the error and whose fault it was (not raised)."""
    stage = Stage.LOAD
    try:
        model = registry.load_version(tracking_uri, model_name, champion_version)
        stage = Stage.PREDICT
        evaluation = evaluate(holdout.y, model.predict(holdout.x))
    except Exception as exc:
        fault = classify(exc, stage)
        log.warning(
            "the champion could not be scored",
            exc_info=True,
            extra={"champion_version": champion_version, "stage": stage.value, "fault": fault.value},
        )
        return ChampionScore(champion_version, None, f"{type(exc).__name__}: {exc}", fault)
    return ChampionScore(champion_version, evaluation)


def decide(client: MlflowClient, settings: Settings, candidate: Candidate, holdout: Rows) -> Decision:
    """Decide for `candidate`, record the decision, move the alias for a promotion; logs the outcome."""
    started = time.monotonic()
    decision = _promote(client, settings, candidate, holdout)
    log.log(
        logging.WARNING if decision.deferred else logging.INFO,
        "promotion decided",
        extra=candidate.extra(decision=decision.label, reason=decision.reason, seconds=seconds_since(started)),
    )
    return decision


def _promote(client: MlflowClient, settings: Settings, candidate: Candidate, holdout: Rows) -> Decision:
    """Decide again when another trainer moved the alias while the champion was being scored."""
    name, alias = candidate.job.model_name, settings.champion_alias
    for _ in range(PROMOTION_ATTEMPTS):
        champion = registry.get_champion(client, name, alias)
        score = None
        if champion is not None:
            log.info(
                "scoring the champion on the same holdout", extra=candidate.extra(champion_version=champion.version)
            )
            score = score_champion(settings.mlflow_tracking_uri, name, int(champion.version), holdout)
        decision = decide_promotion(candidate.holdout, candidate.baseline_mae, score, candidate.serving_form)
        if decision.promote:
            current = registry.get_champion(client, name, alias)
            if (current and current.version) != (champion and champion.version):
                log.info("the champion changed while scoring: deciding again", extra=candidate.extra())
                continue
        record(client, candidate, decision, score)
        if decision.promote:
            registry.set_champion(client, name, candidate.model_version, alias)
            log.info("moved the champion alias", extra=candidate.extra(alias=alias))
        return decision
    decision = Decision(False, "the champion kept changing while this candidate was scored")
    record(client, candidate, decision, None)
    return decision


def record(client: MlflowClient, candidate: Candidate, decision: Decision, score: ChampionScore | None) -> None:
    """The decision as tags on the model version, then on its run (where a deferred one is found again)."""
    tags = {
        registry.TAG_DECISION: decision.label,
        registry.TAG_REASON: decision.reason,
        registry.TAG_COMPARED_WITH: decision.compared_with_version,
        "compared_champion_mae": score.evaluation.mae if score and score.evaluation else None,
    }
    registry.set_version_tags(client, candidate.job.model_name, candidate.model_version, tags)
    client.log_batch(candidate.run_id, tags=[RunTag(k, registry.tag_value(v)) for k, v in tags.items()])
