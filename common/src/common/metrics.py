"""Prometheus helpers shared by the Flask services.

Under gunicorn every worker is a separate process, so metrics use prometheus_client's multiprocess mode when
`PROMETHEUS_MULTIPROC_DIR` is set (gunicorn's `child_exit` hook marks dead workers, see
`common.gunicorn_conf`); a single process (tests, `flask run`) uses the default registry.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess


def render_metrics() -> tuple[bytes, str]:
    """The exposition text for `/metrics` and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
