"""Live quality: how far each served model version's prices were from the real prices people sent back.

The live MAE of a (family, version) is the mean of |corrected_price - predicted_price| over its corrections. A
correction counts when it names the model version and the predicted price (every correction sent from webapp
does), or else when its `prediction_event_id` names a stored prediction: the prediction's model and price are
used then. Other corrections (the seed system's, which know neither) do not count.

The store adds the errors up in one aggregate query (`DocumentStore.error_sums`: GROUP BY in SQLite, `$group`
in MongoDB), run at most once per `cache_seconds` in each process. `GET /quality` answers the result, and
`/metrics` shows it as gauges made at scrape time (`LiveQualityCollector`): not kept in prometheus_client's
multiprocess files, so gunicorn's workers never add up the same value, and a value is never older than the
cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from common.contracts.quality import LiveQuality
from dbapp.storage import DocumentStore, StorageUnavailable
from dbapp.storage.base import ErrorSum

UNKNOWN_FAMILY = "unknown"  # the family label of a model reference without one
MAX_VERSION = 2**31 - 1
MAX_FAMILY_LENGTH = 64


def live_quality(sums: list[ErrorSum]) -> list[LiveQuality]:
    """The mean of each sum, ordered by family then version (a reference outside `ModelRef`'s bounds, which only
    a document stored before those bounds existed can hold, is left out)."""
    usable = [
        s
        for s in sums
        if s.count > 0 and 1 <= s.version <= MAX_VERSION and (s.family is None or len(s.family) <= MAX_FAMILY_LENGTH)
    ]
    usable.sort(key=lambda s: (s.family or "", s.version))
    return [
        LiveQuality(family=s.family, version=s.version, live_mae=round(s.total / s.count, 2), live_corrections=s.count)
        for s in usable
    ]


class LiveQualityCache:
    """The store's answer, asked again once it is `cache_seconds` old (0: on every call). One query at a time."""

    def __init__(
        self,
        store: DocumentStore,
        predictions: str,
        corrections: str,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._collections = (predictions, corrections)
        self._ttl = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: list[LiveQuality] | None = None
        self._at = 0.0

    def current(self) -> list[LiveQuality]:
        """Raises `StorageUnavailable` when the database cannot answer and nothing fresh enough is cached."""
        with self._lock:
            now = self._clock()
            if self._value is None or now - self._at >= self._ttl:
                self._value = live_quality(self._store.error_sums(*self._collections))
                self._at = now
            return self._value


class LiveQualityCollector:
    """`model_live_mae_dollars{family,version}` and `model_live_corrections{family,version}`, read from the cache
    at scrape time. A database that is down leaves both empty (its failure is already logged and counted in
    `db_errors_total` and `mongo_health_status`)."""

    def __init__(self, cache: LiveQualityCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        mae = GaugeMetricFamily(
            "model_live_mae_dollars",
            "Mean |corrected - predicted| price in USD of a model version's corrected predictions",
            labels=["family", "version"],
        )
        count = GaugeMetricFamily(
            "model_live_corrections", "Corrections behind model_live_mae_dollars", labels=["family", "version"]
        )
        try:
            rows = self._cache.current()
        except StorageUnavailable:
            rows = []
        for row in rows:
            labels = [row.family or UNKNOWN_FAMILY, str(row.version)]
            mae.add_metric(labels, row.live_mae)
            count.add_metric(labels, row.live_corrections)
        yield mae
        yield count
