"""Input drift of the houses one worker prices: the last `DRIFT_WINDOW_RECORDS` houses as bins of the serving
model's reference profile (`common.drift`), and their PSI per field as `model_input_drift_psi{feature}`.

Cheap by construction. Recording a house is computing its bins (a bisect per numeric field, a dict lookup per text
field) and writing them into one row of a ring buffer under a lock: a few microseconds, no allocation beyond the
list of bins. The bins are counted and the PSI computed (one `bincount` over the ring) each time a tenth of the
window has been replaced, not per request; a batch records only its last `size` houses.

Each gunicorn worker keeps its own window (see `mlapp.metrics` for how the workers' values combine). A window
belongs to the model it bins for: a new champion starts an empty window with its own profile, and a request still
running on the previous model records nothing. A version without a profile (registered before the trainer logged
them) serves without drift measurement: nothing is exported for it, and that is logged once when it is loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from mlflow.entities.model_registry import ModelVersion
from prometheus_client import Gauge

from common import registry
from common.contracts.drift import ReferenceProfile
from common.drift import Binner, bin_counts, expected_shares, field_psi
from common.metrics import multiprocess_dir
from mlapp import metrics

if TYPE_CHECKING:
    from mlapp.model_holder import ServingModel

log = logging.getLogger(__name__)

PUBLISH_PARTS = 10  # the PSI is recomputed each time this share of the window (a tenth) has been replaced


def load_profile(tracking_uri: str, version: ModelVersion) -> ReferenceProfile | None:
    """The version's reference profile, or None: a profile that cannot be read costs the drift measurement of this
    version (logged), never the model."""
    try:
        return registry.load_profile(tracking_uri, version)
    except Exception as exc:
        log.warning(
            "the reference profile of version %s could not be read: input drift is not measured for it",
            version.version,
            extra={"model_version": int(version.version), "error": f"{type(exc).__name__}: {exc}"},
        )
        return None


class DriftWindow:
    """A ring buffer of the bins of the last `size` houses; `add_*` answer whether the PSI is due."""

    def __init__(self, profile: ReferenceProfile, size: int) -> None:
        self.features = profile.features
        self.binner = Binner.of(profile)
        self.expected = expected_shares(profile)
        self.size = size
        self.step = max(1, size // PUBLISH_PARTS)
        self._sizes = self.binner.sizes
        self._ring = np.zeros((size, len(self.features)), dtype=np.int16)
        self._next = 0  # the row the next house is written to
        self._held = 0  # rows holding a house (the ring fills from row 0, then wraps)
        self._unpublished = 0  # houses added since the PSI was last computed
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        return self._held

    def add_one(self, record: Mapping[str, Any]) -> bool:
        bins = self.binner.bins_one(record)
        with self._lock:
            self._ring[self._next] = bins
            self._next = (self._next + 1) % self.size
            self._held = min(self._held + 1, self.size)
            self._unpublished += 1
            return self._unpublished >= self.step

    def add_rows(self, bins: np.ndarray) -> bool:
        """Houses as an (n, fields) array of bins, in the order they were asked about."""
        bins = bins[-self.size :]
        n = len(bins)
        with self._lock:
            first = min(n, self.size - self._next)  # rows up to the end of the ring, the rest from row 0
            self._ring[self._next : self._next + first] = bins[:first]
            self._ring[: n - first] = bins[first:]
            self._next = (self._next + n) % self.size
            self._held = min(self._held + n, self.size)
            self._unpublished += n
            return self._unpublished >= self.step

    def psi(self) -> tuple[dict[str, float], int]:
        """The PSI of each field over the houses held (none for an empty window), and how many houses that is."""
        with self._lock:
            counts = bin_counts(self._ring[: self._held], self._sizes)
            held, self._unpublished = self._held, 0
        found = field_psi(self.expected, counts, self._sizes)
        return ({} if found is None else dict(zip(self.features, found.tolist(), strict=True))), held


class DriftMonitor:
    """The drift window of the model one process serves: `use` at every swap, `record_*` from the handlers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._state: tuple[ServingModel, DriftWindow] | None = None  # read once per request: swapped atomically
        self._exported: dict[str, Gauge] = {}  # feature -> its PSI series, created at its first value

    @property
    def window(self) -> DriftWindow | None:
        return self._state[1] if self._state else None

    def use(self, model: ServingModel) -> None:
        """Measure drift against `model`'s profile from now on, over an empty window."""
        self._state = None
        self._forget()
        if model.profile is None:
            log.info(
                "version %s has no reference profile: input drift is not measured",
                model.version,
                extra={"model_version": model.version},
            )
            return
        self._state = (model, DriftWindow(model.profile, self.size))

    def record_one(self, model: ServingModel, record: Mapping[str, Any]) -> None:
        state = self._state
        if state is not None and state[0] is model and state[1].add_one(record):
            self.publish()

    def record_columns(self, model: ServingModel, columns: Mapping[str, Any], rows: int) -> None:
        """Houses given column by column (`common.schema.RecordBatch.columns`)."""
        state = self._state
        if state is None or state[0] is not model or rows == 0:
            return
        window = state[1]
        if window.add_rows(window.binner.bins_columns(columns, slice(max(0, rows - window.size), rows))):
            self.publish()

    def publish(self) -> None:
        """Compute the PSI of the current window and export it (the handlers call this every tenth of a window)."""
        window = self.window
        if window is None:
            return
        values, held = window.psi()
        if self.window is not window:  # swapped meanwhile: the new model's window owns the gauges
            return
        for feature, value in values.items():
            gauge = self._exported.get(feature)
            if gauge is None:
                gauge = self._exported[feature] = metrics.DRIFT_PSI.labels(feature)
            gauge.set(value)
        metrics.DRIFT_WINDOW.set(held)

    def _forget(self) -> None:
        """Drop the previous model's PSI. Under gunicorn a worker's values stay in its metrics file until it exits
        (prometheus_client cannot remove them), so they are set to 0 there; the window reads 0 either way, so an
        alert that waits for a full window does not fire on them."""
        metrics.DRIFT_WINDOW.set(0)
        if multiprocess_dir() is None:
            metrics.DRIFT_PSI.clear()
        else:
            for gauge in self._exported.values():
                gauge.set(0)
        self._exported = {}
