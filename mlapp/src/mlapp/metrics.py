"""mlapp's Prometheus metrics. The first seven names and labels are the seed's (004), so its PromQL queries
work unchanged; `experiment` is the serving model's family ("none" while no model is loaded).

The seed metrics describe `POST /predict` (one house, what the web app calls); batch requests have their own
`batch_prediction_*` series so a 10,000-record batch does not distort the single-prediction latency.

Under gunicorn every worker writes its own values (multiprocess mode); gauges declare how workers combine:
in-flight requests are summed over live workers, the load time is the most recent load of a live worker, the
last prediction time is the latest of any worker, and the served version is reported per worker (`pid` label)
so a half-finished swap is visible. Input drift (`mlapp.drift_window`): each worker computes the PSI over its own
window of recent houses; the PSI is the largest of the live workers (a drift any worker sees is reported) and the
window size the smallest (a full window means every worker's PSI stands on a full window).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from common.metrics import collected_now, multiprocess_dir, render_metrics

# mlapp's own registry: the web app exposes metrics with the same seed names (`prediction_requests_total`,
# `prediction_latency_seconds`), and both apps are imported into one test process, where one default registry
# would refuse the second set as duplicates.
REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (ProcessCollector, PlatformCollector, GCCollector):
    _collector(registry=REGISTRY)

NO_EXPERIMENT = "none"

# Prediction latency is sub-millisecond on the hot path; the default buckets start at 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PRICE_BUCKETS = (
    50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 350_000, 400_000, 500_000, 600_000, 750_000,
    1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000, 10_000_000,
)  # fmt: skip
BATCH_SIZE_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000)


# Values of the seed's labels.
class RequestStatus(StrEnum):
    """The `status` label of the request counters."""

    SUCCESS = "success"
    INVALID = "invalid_input"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


class ErrorType(StrEnum):
    """The `error_type` label of `prediction_errors_total` (the seed's metric)."""

    INVALID = "invalid_input"
    NO_MODEL = "model_unavailable"
    PREDICTION = "prediction_error"


PREDICTION_REQUESTS = Counter(
    "prediction_requests_total",
    "POST /predict requests by outcome and serving model family",
    ["status", "experiment"],
    registry=REGISTRY,
)
PREDICTION_LATENCY = Histogram(
    "prediction_latency_seconds",
    "Time to validate a record and predict its price (successful POST /predict)",
    ["experiment"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PREDICTION_ERRORS = Counter(
    "prediction_errors_total",
    "POST /predict requests that got no price, by reason",
    ["error_type", "experiment"],
    registry=REGISTRY,
)
ACTIVE_REQUESTS = Gauge(
    "active_prediction_requests",
    "Prediction requests (single and batch) in progress",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
MODEL_LOAD_TIME = Gauge(
    "model_load_time_seconds",
    "Seconds the serving model took to download, load and check",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
LAST_PREDICTION_TIME = Gauge(
    "last_prediction_timestamp",
    "Unix time of the last successful prediction",
    multiprocess_mode="max",
    registry=REGISTRY,
)
PREDICTED_PRICE = Histogram(
    "predicted_price_dollars", "Prices answered by POST /predict", buckets=PRICE_BUCKETS, registry=REGISTRY
)


@functools.cache
def prediction_served(experiment: str) -> tuple[Counter, Histogram]:
    """The success counter and latency histogram of `POST /predict` for one model family, labelled once per
    process: `labels()` takes a lock and checks its values on every call, a quarter of the metrics' cost a
    prediction. (No series here is ever removed, so a cached child stays the one exported.)"""
    return PREDICTION_REQUESTS.labels(RequestStatus.SUCCESS, experiment), PREDICTION_LATENCY.labels(experiment)


BATCH_REQUESTS = Counter(
    "batch_prediction_requests_total",
    "POST /predict/batch requests by outcome",
    ["status", "experiment"],
    registry=REGISTRY,
)
BATCH_LATENCY = Histogram(
    "batch_prediction_latency_seconds",
    "Time to validate and predict a whole batch (successful POST /predict/batch)",
    ["experiment"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
BATCH_RECORDS = Histogram(
    "batch_prediction_records", "Records per successful batch", buckets=BATCH_SIZE_BUCKETS, registry=REGISTRY
)

INFER_REQUESTS = Counter(
    "inference_protocol_requests_total",
    "POST /v2/models/<model>/infer requests (Open Inference Protocol) by outcome",
    ["status", "experiment"],
    registry=REGISTRY,
)
INFER_LATENCY = Histogram(
    "inference_protocol_latency_seconds",
    "Time to decode, validate and price a whole inference request (successful POST /v2/models/<model>/infer)",
    ["experiment"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

MODEL_LOADS = Counter(
    "model_loads_total", "Models loaded and swapped in, by what triggered the check", ["trigger"], registry=REGISTRY
)
MODEL_LOAD_FAILURES = Counter(
    "model_load_failures_total",
    "Champion checks or loads that failed (the previous model keeps serving), by reason",
    ["reason"],
    registry=REGISTRY,
)
SERVING_VERSION = Gauge(
    "serving_model_version",
    "Registered model version this worker serves (0: none)",
    multiprocess_mode="liveall",
    registry=REGISTRY,
)
DRIFT_PSI = Gauge(
    "model_input_drift_psi",
    "Population stability index of the recently priced houses against the serving model's training data, per field",
    ["feature"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
DRIFT_WINDOW = Gauge(
    "model_input_drift_window_requests",
    "Houses in the window the input-drift PSI is computed over (DRIFT_WINDOW_RECORDS when full)",
    multiprocess_mode="livemin",
    registry=REGISTRY,
)


def touch_experiment(experiment: str) -> None:
    """Create the labelled series of a newly served family at 0, so rates and error ratios exist before the
    first error instead of being absent."""
    for status in RequestStatus:
        PREDICTION_REQUESTS.labels(status, experiment)
    for error_type in ErrorType:
        PREDICTION_ERRORS.labels(error_type, experiment)
    PREDICTION_LATENCY.labels(experiment)


class ServingHoldout:
    """`model_holdout_mae_dollars{family,version}` of the model this worker serves, made at scrape time: a
    multiprocess gauge would keep a swapped-out version's series for as long as the worker lives."""

    def __init__(self, info: Mapping[str, Any] | None) -> None:
        self._info = info or {}

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "model_holdout_mae_dollars",
            "Holdout MAE in USD the trainer recorded for the served model version",
            labels=["family", "version"],
        )
        mae = self._info.get("holdout_mae")
        if isinstance(mae, int | float) and not isinstance(mae, bool) and math.isfinite(mae):
            gauge.add_metric([self._info.get("family") or "unknown", str(self._info.get("version"))], float(mae))
        yield gauge


def render(*scraped: Collector) -> tuple[bytes, str]:
    """The `/metrics` body: every worker's files under gunicorn (multiprocess mode), else this registry; then
    the `scraped` collectors, computed now."""
    if multiprocess_dir() is not None:
        body, content_type = render_metrics()
    else:
        body, content_type = generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    return body + collected_now(*scraped), content_type
