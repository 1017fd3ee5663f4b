"""The trainer's last step for a registered candidate: score the current champion on the candidate's holdout,
decide, record the decision in tags (model version and run), move the alias, and announce a promotion on the
bus. The tags are always written before the alias moves, so a failure in between never leaves a champion
whose tags do not say why it is one."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import RunTag

from common import registry
from common.bus import Publisher
from common.contracts.events import ModelPromoted
from common.events import Event
from common.settings import Settings
from common.training.evaluation import Evaluation, evaluate
from common.training.faults import Stage, classify
from common.training.promotion import ChampionScore, Decision, decide_promotion

log = logging.getLogger(__name__)

PROMOTION_ATTEMPTS = 3


@dataclass(frozen=True)
class Candidate:
    """A registered model version waiting for its promotion decision, with its scores on the holdout."""

    family: str
    dataset_version: int
    model_version: int
    run_id: str
    holdout: Evaluation
    baseline_mae: float


def score_champion(
    settings: Settings, champion_version: int, x_holdout: pd.DataFrame, y_holdout: np.ndarray
) -> ChampionScore:
    """The champion's scores on the holdout; on failure, the error and whose fault it was (not raised)."""
    stage = Stage.LOAD
    try:
        model = registry.load_version(settings.mlflow_tracking_uri, settings.model_name, champion_version)
        stage = Stage.PREDICT
        evaluation = evaluate(y_holdout, model.predict(x_holdout))
    except Exception as exc:
        fault = classify(exc, stage)
        log.warning(
            "the champion could not be scored",
            exc_info=True,
            extra={"champion_version": champion_version, "stage": stage.value, "fault": fault.value},
        )
        return ChampionScore(champion_version, None, f"{type(exc).__name__}: {exc}", fault)
    return ChampionScore(champion_version, evaluation)


def conclude(
    client: MlflowClient,
    settings: Settings,
    candidate: Candidate,
    x_holdout: pd.DataFrame,
    y_holdout: np.ndarray,
    context: dict[str, Any],
    publisher: Publisher | None,
) -> tuple[Decision, str | None]:
    """Decide for `candidate` (see `promote`) and announce a promotion when a publisher is given; returns the
    decision and the id of the event published, if any."""
    started = time.monotonic()
    decision = promote(client, settings, candidate, x_holdout, y_holdout, context)
    log.log(
        logging.WARNING if decision.deferred else logging.INFO,
        "promotion decided",
        extra={
            **context,
            "decision": decision.label,
            "reason": decision.reason,
            "seconds": round(time.monotonic() - started, 3),
        },
    )
    if decision.promote and publisher is not None:
        return decision, publish_promotion(publisher, client, settings, candidate, decision)
    return decision, None


def promote(
    client: MlflowClient,
    settings: Settings,
    candidate: Candidate,
    x_holdout: pd.DataFrame,
    y_holdout: np.ndarray,
    context: dict[str, Any],
) -> Decision:
    """Score the champion, decide, record the decision in tags (model version and run), then move the alias
    if promoted; decide again if another trainer moved the alias meanwhile."""
    name, alias = settings.model_name, settings.champion_alias
    for _ in range(PROMOTION_ATTEMPTS):
        champion = registry.get_champion(client, name, alias)
        score = None
        if champion is not None:
            log.info(
                "scoring the champion on the same holdout", extra={**context, "champion_version": champion.version}
            )
            score = score_champion(settings, int(champion.version), x_holdout, y_holdout)
        decision = decide_promotion(candidate.holdout, candidate.baseline_mae, score)
        if decision.promote:
            current = registry.get_champion(client, name, alias)
            if (current and current.version) != (champion and champion.version):
                log.info("the champion changed while scoring: deciding again", extra=context)
                continue
        _record(client, settings, candidate, decision, score)
        if decision.promote:
            registry.set_champion(client, name, candidate.model_version, alias)
            log.info("moved the champion alias", extra={**context, "alias": alias})
        return decision
    decision = Decision(False, "the champion kept changing while this candidate was scored")
    _record(client, settings, candidate, decision, None)
    return decision


def _record(
    client: MlflowClient, settings: Settings, candidate: Candidate, decision: Decision, score: ChampionScore | None
) -> None:
    """The decision as tags on the model version, then on its run (where a deferred one is found again)."""
    tags = {
        registry.TAG_DECISION: decision.label,
        registry.TAG_REASON: decision.reason,
        registry.TAG_COMPARED_WITH: decision.compared_with_version,
        "compared_champion_mae": score.evaluation.mae if score and score.evaluation else None,
    }
    registry.set_version_tags(client, settings.model_name, candidate.model_version, tags)
    client.log_batch(candidate.run_id, tags=[RunTag(k, registry.tag_value(v)) for k, v in tags.items()])


def publish_promotion(
    publisher: Publisher, client: MlflowClient, settings: Settings, candidate: Candidate, decision: Decision
) -> str | None:
    """Publish `model.promoted`. A failure is logged and tagged, not raised: the alias already moved, and
    mlapp also polls the alias."""
    model_version = candidate.model_version
    event = Event(
        "model.promoted",
        ModelPromoted(
            name=settings.model_name,
            version=model_version,
            family=candidate.family,
            dataset_version=candidate.dataset_version,
            holdout_mae=candidate.holdout.mae,
            previous_version=decision.compared_with_version,
        ).model_dump(),
    )
    try:
        publisher.publish(event)
    except Exception as exc:
        log.exception("publishing the promotion event failed", extra={"event_id": event.event_id})
        registry.set_version_tags(client, settings.model_name, model_version, {"promotion_event": f"failed: {exc}"})
        return None
    registry.set_version_tags(client, settings.model_name, model_version, {"promotion_event": event.event_id})
    return event.event_id
