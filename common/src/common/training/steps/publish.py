"""Step 6: a promotion announced as `model.promoted` on the bus (when a publisher is given), and the outcome
tagged on the model version."""

from __future__ import annotations

import logging

from mlflow import MlflowClient

from common import registry
from common.bus import Publisher
from common.contracts.events import ModelPromoted
from common.events import Event
from common.training.promotion import Decision
from common.training.steps.register import Candidate

log = logging.getLogger(__name__)


def publish_promotion(
    publisher: Publisher | None, client: MlflowClient, candidate: Candidate, decision: Decision
) -> str | None:
    """The id of the event published for a promotion; None when there is nothing to announce, no publisher,
    or publishing failed. A failure is logged and tagged, not raised: the alias already moved, and mlapp
    also polls the alias."""
    if not decision.promote or publisher is None:
        return None
    job = candidate.job
    event = Event(
        "model.promoted",
        ModelPromoted(
            name=job.model_name,
            version=candidate.model_version,
            family=job.family,
            dataset_version=job.dataset_version,
            holdout_mae=candidate.holdout.mae,
            previous_version=decision.compared_with_version,
        ).model_dump(),
    )
    name, version = job.model_name, candidate.model_version
    try:
        publisher.publish(event)
    except Exception as exc:
        log.exception("publishing the promotion event failed", extra=candidate.extra(event_id=event.event_id))
        registry.set_version_tags(client, name, version, {"promotion_event": f"failed: {exc}"})
        return None
    registry.set_version_tags(client, name, version, {"promotion_event": event.event_id})
    return event.event_id
