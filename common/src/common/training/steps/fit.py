"""Step 2: the family's estimator behind the shared features, fitted on the train rows.

A fitted model that `common.registry.load_model` would refuse to load (a class outside
`common.registry.TRUSTED_TYPES`) fails here, before anything is logged or registered."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sklearn.pipeline import Pipeline

from common import registry
from common.features import HouseFeatures
from common.training.family import FamilySpec
from common.training.job import Job, seconds_since
from common.training.steps.load import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fitted:
    pipeline: Pipeline
    seconds: float  # fitting only


def build_pipeline(spec: FamilySpec) -> Pipeline:
    """Features and regressor in one estimator: what is logged is exactly what serves."""
    return Pipeline([("features", HouseFeatures(**spec.features)), ("model", spec.estimator())])


def untrusted_types(pipeline: Pipeline) -> list[str]:
    """Classes in the fitted pipeline that `common.registry.load_model` would refuse to load."""
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    return sorted(set(found) - set(registry.TRUSTED_TYPES))


def fit_pipeline(spec: FamilySpec, data: Dataset, job: Job) -> Fitted:
    """Build and fit the pipeline; `TypeError` when the fitted model could not be loaded back."""
    pipeline = build_pipeline(spec)
    log.info("fitting", extra=job.extra(params=dict(spec.params), features=dict(spec.features)))
    started = time.monotonic()
    pipeline.fit(data.train.x, data.train.y)
    seconds = seconds_since(started)
    unknown = untrusted_types(pipeline)
    if unknown:
        raise TypeError(
            f"family {spec.name}: the fitted model contains {unknown}, which common.registry.TRUSTED_TYPES does not "
            "list; review these classes and add them there, or use other estimators"
        )
    return Fitted(pipeline, seconds)
