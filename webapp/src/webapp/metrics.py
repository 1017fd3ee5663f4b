"""webapp's Prometheus metrics, with the seed's (004) names so its PromQL queries work unchanged.

Under gunicorn every worker writes its own values (`PROMETHEUS_MULTIPROC_DIR`); `last_predicted_price` is then
the most recent value set by any worker.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREDICTION_REQUESTS = Counter("prediction_requests_total", "Price predictions asked for (form and API)")
CORRECTION_REQUESTS = Counter("correction_requests_total", "Price corrections submitted (form and API)")
PREDICTION_LATENCY = Histogram(
    "prediction_latency_seconds", "Time to get a price from mlapp, for predictions that got one"
)
LAST_PREDICTED_PRICE = Gauge(
    "last_predicted_price", "The most recent price shown to a user, in USD", multiprocess_mode="mostrecent"
)
ERROR_COUNT = Counter(
    "error_count_total",
    "Requests that could not be served as asked: mlapp or dbapp unavailable, an event not published, "
    "an unexpected error",
)
