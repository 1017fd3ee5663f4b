"""The serving model and how it is replaced.

`ModelHolder.current` is one reference to an immutable `ServingModel`. A request reads it once and uses that
model to the end, so swapping (one assignment, atomic in Python) never mixes two models in one answer and never
makes a request wait. `refresh()` reads the champion alias and, when it points at another version, loads that
version completely (download, skops load, structure check, one smoke prediction, and the reference profile
`mlapp.drift_window` measures input drift against) before swapping it in. Any failure keeps the previous model
serving; it is logged with the reason and counted in `model_load_failures_total{reason}` (a profile that cannot be
read only costs that version its drift measurement).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from common import registry
from common.compiled import Predict, compile_regressor
from common.contracts.drift import ReferenceProfile
from common.features import HouseFeatures
from common.schema import INPUT_FIELDS, validate_record
from mlapp import metrics
from mlapp.config import DEFAULT_DRIFT_WINDOW
from mlapp.drift_window import DriftMonitor, load_profile

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 500

# model_load_failures_total{reason}
REASON_REGISTRY = "registry_unavailable"  # the alias could not be read (MLflow down, wrong URI, no permission)
REASON_UNTRUSTED = "untrusted_model"  # not skops, or classes outside common.registry.TRUSTED_TYPES
REASON_INVALID = "invalid_model"  # loads, but is not our Pipeline or cannot price the example house
REASON_LOAD = "load_error"  # download or deserialisation failed (possibly transient: retried on the next check)
PERMANENT_REASONS = frozenset({REASON_UNTRUSTED, REASON_INVALID})  # a version's artifacts never change


class Outcome(StrEnum):
    """What one registry check (`refresh()`) did; shown by /model-info as `last_check.outcome`."""

    PENDING = "pending"  # before the first check finished
    LOADED = "loaded"
    UNCHANGED = "unchanged"
    NO_CHAMPION = "no_champion"
    SKIPPED = "skipped"  # the champion's version was refused before and its artifacts never change
    FAILED = "failed"


class InvalidModel(RuntimeError):
    """The artifact loaded but cannot serve: wrong structure, or no sane price for the schema's example house."""


def _example_record() -> dict[str, Any]:
    return validate_record({spec.name: spec.example for spec in INPUT_FIELDS})


def safe_uri(uri: str) -> str:
    """The URI without user info, for messages and logs (a tracking URI may carry credentials)."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ServingModel:
    """One loaded model version: the two steps of the logged Pipeline and what the registry says about it."""

    info: Mapping[str, Any]  # common.registry.describe() of the version
    features: HouseFeatures
    regressor: Any  # the Pipeline's "model" step
    loaded_at: str
    load_seconds: float
    compiled: Predict | None = None  # the regressor compiled for one row (mlapp.compiled); None: its own predict
    profile: ReferenceProfile | None = None  # its training data's profile (input drift); None: registered without
    summary: Mapping[str, Any] = field(init=False)  # {"name", "version", "family"}: built once, sent with every answer
    summary_json: str = field(init=False)  # the same, serialised once for the single-record hot path

    def __post_init__(self) -> None:
        summary = {"name": self.info["name"], "version": self.info["version"], "family": self.info.get("family")}
        object.__setattr__(self, "summary", summary)
        object.__setattr__(self, "summary_json", json.dumps(summary, separators=(",", ":")))

    @classmethod
    def from_pipeline(
        cls, pipeline: Any, info: Mapping[str, Any], load_seconds: float = 0.0, profile: ReferenceProfile | None = None
    ) -> ServingModel:
        """Check that `pipeline` is our Pipeline(features, model) and prices the example house sanely."""
        steps = getattr(pipeline, "named_steps", None)
        if steps is None or "features" not in steps or "model" not in steps:
            raise InvalidModel(f"expected an sklearn Pipeline with steps 'features' and 'model', got {pipeline!r:.200}")
        if not isinstance(steps["features"], HouseFeatures):
            raise InvalidModel(
                f"the 'features' step is {type(steps['features']).__name__}, not common.features.HouseFeatures"
            )
        features, regressor = steps["features"], steps["model"]
        compiled = compile_regressor(regressor, features.transform_record(_example_record()))
        model = cls(dict(info), features, regressor, _utcnow(), round(load_seconds, 3), compiled, profile)
        try:
            price = model.predict_one(_example_record())
        except Exception as exc:
            raise InvalidModel(f"predicting the example house failed: {_short(exc)}") from exc
        if not (math.isfinite(price) and price > 0):
            raise InvalidModel(f"the example house was priced {price!r}, not a positive number")
        return model

    @property
    def version(self) -> int:
        return int(self.info["version"])

    @property
    def experiment(self) -> str:
        """The `experiment` label of the seed's metrics: the model family (its MLflow experiment)."""
        return self.info.get("family") or "unknown"

    def predict_one(self, record: Mapping[str, Any]) -> float:
        """The hot path: a validated record -> feature vector (no pandas) -> price."""
        row = self.features.transform_record(record)
        if self.compiled is not None:
            return self.compiled(row[0])
        return float(self.regressor.predict(row)[0])

    def predict_columns(self, columns: Mapping[str, Any]) -> list[float]:
        """Validated values column by column (`common.schema.validate_records`) -> prices, with the vectorised
        transform (straight from the columns, no DataFrame) and the regressor's own predict (the same numbers as
        `predict_one`)."""
        return cast(list[float], self.regressor.predict(self.features.transform(columns)).tolist())


@dataclass(frozen=True)
class Check:
    """The outcome of the latest registry check, shown by /model-info and in 503 answers."""

    at: str
    trigger: str
    outcome: Outcome
    detail: str


class ModelHolder:
    """Holds the serving model of one process; `refresh()` is safe to call from several threads."""

    def __init__(
        self, tracking_uri: str, model_name: str, alias: str = "champion", drift_window: int = DEFAULT_DRIFT_WINDOW
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias
        self._client = registry.client(tracking_uri)
        self._current: ServingModel | None = None
        self.drift = DriftMonitor(drift_window)  # the input-drift window of the model served
        self._lock = threading.Lock()  # one load at a time; readers never take it
        self._rejected: dict[int, str] = {}  # versions that can never serve, with why
        self._checked = threading.Event()
        waiting = "the first check of the model registry has not finished"
        self._last = Check(_utcnow(), "startup", Outcome.PENDING, waiting)

    @property
    def current(self) -> ServingModel | None:
        return self._current

    @property
    def last_check(self) -> Check:
        return self._last

    def unavailable_reason(self) -> str:
        """Why no model serves, for the 503 answers: always starts with "no model loaded yet"."""
        return f"no model loaded yet: {self._last.detail}"

    def wait_first_check(self, timeout: float) -> bool:
        return self._checked.wait(timeout)

    def install(self, model: ServingModel, trigger: str = "manual") -> None:
        """Serve `model` from now on (requests already running finish on the model they started with)."""
        previous = self._current
        self._current = model
        self.drift.use(model)
        metrics.touch_experiment(model.experiment)
        metrics.MODEL_LOAD_TIME.set(model.load_seconds)
        metrics.SERVING_VERSION.set(model.version)
        metrics.MODEL_LOADS.labels(trigger).inc()
        log.info(
            "serving model %s version %s (%s)",
            model.info["name"],
            model.version,
            model.experiment,
            extra={
                "model_name": model.info["name"],
                "model_version": model.version,
                "family": model.experiment,
                "previous_version": previous.version if previous else None,
                "trigger": trigger,
                "load_seconds": model.load_seconds,
            },
        )

    def refresh(self, trigger: str, event_id: str | None = None) -> Outcome:
        """Read the alias; load and swap in the version it points at if that is not the one serving."""
        with self._lock:
            try:
                outcome, detail = self._refresh(trigger, event_id)
            except Exception as exc:  # a bug, not a bad model: still recorded, and the current model serves on
                log.exception("model check crashed", extra={"trigger": trigger})
                outcome, detail = Outcome.FAILED, f"the model check crashed ({_short(exc)})"
            self._last = Check(_utcnow(), trigger, outcome, detail)
            self._checked.set()
            return outcome

    def _fail(self, reason: str, detail: str, context: dict[str, Any]) -> tuple[Outcome, str]:
        metrics.MODEL_LOAD_FAILURES.labels(reason).inc()
        serving = self._current.version if self._current else None
        log.error(
            "model check failed (%s); %s",
            reason,
            f"version {serving} keeps serving" if serving else "still no model to serve",
            extra={**context, "reason": reason, "detail": detail, "serving_version": serving},
        )
        return Outcome.FAILED, detail

    def _refresh(self, trigger: str, event_id: str | None) -> tuple[Outcome, str]:
        uri = safe_uri(self.tracking_uri)
        context: dict[str, Any] = {"model_name": self.model_name, "alias": self.alias, "trigger": trigger}
        if event_id:
            context["event_id"] = event_id
        try:
            champion = registry.get_champion(self._client, self.model_name, self.alias)
        except Exception as exc:
            return self._fail(REASON_REGISTRY, f"the model registry at {uri} is unreachable ({_short(exc)})", context)
        if champion is None:
            detail = f"no version of {self.model_name!r} has the alias {self.alias!r} in the registry at {uri}"
            if self._current is not None:
                log.warning("the champion alias is gone; the loaded model keeps serving", extra=context)
            return Outcome.NO_CHAMPION, detail

        version = int(champion.version)
        context["model_version"] = version
        current = self._current
        if current is not None and current.version == version:
            return Outcome.UNCHANGED, f"version {version} is the champion and serves"
        if version in self._rejected:
            return Outcome.SKIPPED, f"champion version {version} cannot serve: {self._rejected[version]}"

        log.info("loading champion version %s", version, extra=context)
        started = time.monotonic()
        try:
            pipeline = registry.load_version(self.tracking_uri, self.model_name, version)
            profile = load_profile(self.tracking_uri, champion)
            seconds = time.monotonic() - started
            model = ServingModel.from_pipeline(pipeline, registry.describe(champion), seconds, profile)
        except registry.UntrustedModel as exc:
            reason, problem = REASON_UNTRUSTED, _short(exc)
        except InvalidModel as exc:
            reason, problem = REASON_INVALID, str(exc)
        except Exception as exc:
            reason, problem = REASON_LOAD, _short(exc)
        else:
            self.install(model, trigger)
            return Outcome.LOADED, f"version {version} loaded in {model.load_seconds:.2f} s"
        if reason in PERMANENT_REASONS:
            self._rejected[version] = problem
        return self._fail(reason, f"champion version {version} cannot serve: {problem}", context)
