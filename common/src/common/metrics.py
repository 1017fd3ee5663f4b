"""Prometheus helpers shared by the Flask services.

Under gunicorn every worker is a separate process, so metrics use prometheus_client's multiprocess mode when
`PROMETHEUS_MULTIPROC_DIR` is set (gunicorn's `child_exit` hook marks dead workers, see
`common.gunicorn_conf`); a single process (tests, `flask run`) uses the default registry.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.registry import Collector


def multiprocess_dir() -> Path | None:
    """PROMETHEUS_MULTIPROC_DIR, read at call time because prometheus_client itself reads it from the process's
    environment (at import): the one variable this project reads where the library does, not in a config object."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(path) if path else None


def render_metrics() -> tuple[bytes, str]:
    """The exposition text for `/metrics` and its content type."""
    if multiprocess_dir() is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client: unannotated
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def collected_now(*collectors: Collector) -> bytes:
    """The exposition text of collectors that compute their values at scrape time, to append to the body of
    `render_metrics`: kept out of the multiprocess files, so workers never add up or keep stale values."""
    registry = CollectorRegistry(auto_describe=False)  # registering never calls collect(): one computation
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
