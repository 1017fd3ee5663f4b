"""The trainer's last step: score the current champion on the candidate's holdout, decide, record the decision
in tags (model version and run), move the alias, and announce a promotion on the bus."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from common import registry
from common.bus import Publisher
from common.contracts.events import ModelPromoted
from common.events import Event
from common.settings import Settings
from common.training.evaluation import Evaluation, evaluate
from common.training.promotion import ChampionScore, Decision, decide_promotion

log = logging.getLogger(__name__)

PROMOTION_ATTEMPTS = 3


def _score_champion(
    settings: Settings, champion_version: int, x_holdout: pd.DataFrame, y_holdout: np.ndarray
) -> ChampionScore:
    try:
        model = registry.load_version(settings.mlflow_tracking_uri, settings.model_name, champion_version)
        return ChampionScore(champion_version, evaluate(y_holdout, model.predict(x_holdout)))
    except Exception as exc:  # a champion that cannot load or predict cannot serve either: recorded, not fatal
        log.exception("the champion could not be scored", extra={"champion_version": champion_version})
        return ChampionScore(champion_version, None, f"{type(exc).__name__}: {exc}")


def promote(
    client: MlflowClient,
    settings: Settings,
    model_version: int,
    holdout_eval: Evaluation,
    baseline_mae: float,
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
            score = _score_champion(settings, int(champion.version), x_holdout, y_holdout)
        decision = decide_promotion(holdout_eval, baseline_mae, score)
        if decision.promote:
            current = registry.get_champion(client, name, alias)
            if (current and current.version) != (champion and champion.version):
                log.info("the champion changed while scoring: deciding again", extra=context)
                continue
        _record(client, settings, model_version, decision, score)
        if decision.promote:
            registry.set_champion(client, name, model_version, alias)
            log.info("moved the champion alias", extra={**context, "alias": alias})
        return decision
    decision = Decision(False, "the champion kept changing while this candidate was scored")
    _record(client, settings, model_version, decision, None)
    return decision


def _record(
    client: MlflowClient, settings: Settings, model_version: int, decision: Decision, score: ChampionScore | None
) -> None:
    tags = {
        registry.TAG_DECISION: decision.label,
        registry.TAG_REASON: decision.reason,
        registry.TAG_COMPARED_WITH: decision.compared_with_version,
        "compared_champion_mae": score.evaluation.mae if score and score.evaluation else None,
    }
    registry.set_version_tags(client, settings.model_name, model_version, tags)
    mlflow.set_tags({k: registry.tag_value(v) for k, v in tags.items()})


def publish_promotion(
    publisher: Publisher,
    client: MlflowClient,
    settings: Settings,
    family: str,
    dataset_version: int,
    model_version: int,
    holdout_eval: Evaluation,
    decision: Decision,
) -> str | None:
    """Publish `model.promoted`. A failure is logged and tagged, not raised: the alias already moved, and
    mlapp also polls the alias."""
    event = Event(
        "model.promoted",
        ModelPromoted(
            name=settings.model_name,
            version=model_version,
            family=family,
            dataset_version=dataset_version,
            holdout_mae=holdout_eval.mae,
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
