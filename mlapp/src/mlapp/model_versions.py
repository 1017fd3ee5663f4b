"""`GET /model-versions`: every version of the registered model, newest first, with what the trainer recorded
about it (family, dataset version, holdout MAE, promotion decision and reason: `common.registry`'s tags) and
its status. webapp's `/model` page and `GET /api/models` read it, so webapp needs neither an MLflow client nor a
network path to MLflow.

Status: champion = the version the champion alias names; challenger = still in contention, i.e. no decision is
recorded yet (the trainer registers, then decides) or the decision was deferred (the next run of the same
dataset version decides again: `common.training.deferred`); retired = every other version (rejected, or
promoted once and replaced since by a later champion). The registry is read at most once per
`CACHE_SECONDS` per process: a busy page cannot flood MLflow.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, get_args

from flask import Blueprint, Flask, Response, current_app, jsonify
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from common import registry
from common.contracts.answers import ErrorBody
from common.contracts.quality import (
    MAX_VERSIONS,
    Outcome,
    PromotionDecision,
    RegistryVersion,
    RegistryVersionsAnswer,
    Status,
)
from common.openapi import Answer
from mlapp import context
from mlapp.api_doc import API
from mlapp.model_holder import ModelHolder, safe_uri

CACHE_SECONDS = 5.0
EXTENSION = "mlapp.model_versions"
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
MAX_FAMILY, MAX_REASON = 64, 2000

log = logging.getLogger(__name__)
bp = Blueprint("model_versions", __name__)


def status_of(version: int, champion: int | None, outcome: str | None) -> Status:
    if version == champion:
        return "champion"
    if outcome is None or outcome == "deferred":
        return "challenger"
    return "retired"


def _whole(raw: Any, minimum: int) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= minimum else None


def _money(raw: Any) -> float | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw) and raw >= 0:
        return float(raw)
    return None


def _decision(tags: Mapping[str, str]) -> PromotionDecision | None:
    outcome = tags.get(registry.TAG_DECISION)
    if outcome not in OUTCOMES:
        return None
    compared = tags.get(registry.TAG_COMPARED_WITH, "")
    return PromotionDecision(
        outcome=outcome,  # type: ignore[arg-type]  # one of OUTCOMES, checked above
        reason=(tags.get(registry.TAG_REASON) or "")[:MAX_REASON] or None,
        compared_with_version=int(compared) if compared.isdigit() and int(compared) >= 1 else None,
    )


def registry_version(version: ModelVersion, champion: int | None) -> RegistryVersion:
    """One version as the contract describes it; a tag that is missing or unusable is null, never an error."""
    info = registry.describe(version)
    decision = _decision(version.tags or {})
    family = info.get("family")
    created = version.creation_timestamp
    return RegistryVersion(
        family=family[:MAX_FAMILY] if isinstance(family, str) and family else None,
        version=info["version"],
        dataset_version=_whole(info.get("dataset_version"), 0),
        holdout_mae=_money(info.get("holdout_mae")),
        status=status_of(info["version"], champion, decision.outcome if decision else None),
        decision=decision,
        registered_at=datetime.fromtimestamp(created / 1000, UTC).isoformat(timespec="seconds") if created else None,
    )


def list_versions(client: MlflowClient, name: str, alias: str) -> RegistryVersionsAnswer:
    """The newest `MAX_VERSIONS` versions of `name` (none when the model is not registered yet)."""
    champion_version = registry.get_champion(client, name, alias)
    champion = int(champion_version.version) if champion_version else None
    found = client.search_model_versions(f"name='{name}'", max_results=MAX_VERSIONS, order_by=["version_number DESC"])
    versions = sorted((registry_version(v, champion) for v in found), key=lambda v: -v.version)
    return RegistryVersionsAnswer(name=name, alias=alias, champion_version=champion, versions=versions)


class VersionsCache:
    """`list_versions` of one registered model, reused for `ttl` seconds; one registry read at a time."""

    def __init__(self, read: Callable[[], RegistryVersionsAnswer], ttl: float = CACHE_SECONDS) -> None:
        self._read = read
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: RegistryVersionsAnswer | None = None
        self._at = 0.0

    def current(self) -> RegistryVersionsAnswer:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._at >= self._ttl:
                self._value = self._read()
                self._at = now
            return self._value


def install(app: Flask, holder: ModelHolder) -> None:
    """Serve `GET /model-versions` for the registered model `holder` serves from."""
    client = registry.client(holder.tracking_uri)
    app.extensions[EXTENSION] = VersionsCache(lambda: list_versions(client, holder.model_name, holder.alias))
    app.register_blueprint(bp)


@bp.get("/model-versions")
@API.operation(
    "GET",
    "/model-versions",
    summary="Every version of the registered model with its family, dataset version, holdout MAE, status and "
    "promotion decision",
    answers={
        200: Answer(RegistryVersionsAnswer, "The newest versions first"),
        503: Answer(ErrorBody, "The model registry cannot be read"),
    },
)
def model_versions() -> Response | tuple[Response, int]:
    cache: VersionsCache = current_app.extensions[EXTENSION]
    try:
        answer = cache.current()
    except Exception as exc:  # MLflow down, refusing, or answering nonsense: no registry to show right now
        uri = safe_uri(context.current().holder.tracking_uri)
        log.warning("the model registry cannot be read", exc_info=True, extra={"tracking_uri": uri})
        return jsonify(error=f"the model registry at {uri} cannot be read ({type(exc).__name__})"), 503
    return jsonify(answer.model_dump())
