"""Rows/s through mlapp's POST /predict/batch, beside the floor of the same work without HTTP.

Over HTTP: distinct batches of `batch_records` records each, `CONNECTIONS_PER_WORKER` requests in flight per
gunicorn worker (one computing while the next is read and parsed; more would only queue). In process, the
floor: the champion loaded the way mlapp loads it (`common.registry`), its own `predict` on the same batches,
one thread, no HTTP, JSON or validation.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from common import registry
from platform_bench import loadtest, servers, synthetic, wrk
from platform_bench.context import BenchContext
from platform_bench.report import Row
from platform_bench.training import ensure_champion

log = logging.getLogger("bench")

SECTION = "batch"
BATCHES = 20  # distinct request bodies
SEED = 13
CONNECTIONS_PER_WORKER = 2
TARGET_ROWS_PER_SECOND = 50_000


def batch_body(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"records": list(records)}, separators=(",", ":"))


def _rows_per_second(work: Callable[[Any], Any], batches: Sequence[Any], seconds: float) -> float:
    """Run `work` over the batches, round after round, for at least `seconds` (and at least one round)."""
    rows, started = 0, time.perf_counter()
    while True:
        for batch in batches:
            work(batch)
            rows += len(batch)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return rows / elapsed


def _in_process(ctx: BenchContext, champion: dict[str, Any], batches: list[list[dict[str, Any]]]) -> Row:
    """The logged Pipeline's own predict on each batch as a DataFrame (built beforehand), in one thread: OpenMP
    limited to one thread as in each mlapp worker (see `mlapp/__init__.py`), so this is the floor per core."""
    pipeline = registry.load_version(ctx.env()["MLFLOW_TRACKING_URI"], champion["name"], champion["version"])
    frames = [pd.DataFrame(batch) for batch in batches]
    with threadpool_limits(limits=1):
        rows_per_second = _rows_per_second(pipeline.predict, frames, ctx.config.duration_seconds)
    log.info("in-process batch prediction", extra={"rows_per_second": rows_per_second})
    values = {"rows_per_second": rows_per_second, "batch_records": ctx.config.batch_records, "threads": 1}
    return Row(SECTION, "in process: Pipeline.predict, 1 thread", f"{rows_per_second:,.0f} rows/s", values)


def run(ctx: BenchContext) -> list[Row]:
    champion = ensure_champion(ctx)
    size = ctx.config.batch_records
    records = synthetic.records(BATCHES * size, SEED)
    batches = [records[i : i + size] for i in range(0, len(records), size)]
    bodies = wrk.write_bodies(ctx.work_dir / SECTION / "batches.jsonl", map(batch_body, batches))
    connections = CONNECTIONS_PER_WORKER * ctx.config.workers
    target = loadtest.Target("mlapp /predict/batch", servers.mlapp(ctx).url("/predict/batch"), bodies)
    measured = loadtest.measure(ctx, [target], [connections])[(target.name, connections)]
    rows_per_second = measured.requests_per_second * size
    values = {**measured.values(), "batch_records": size, "rows_per_second": rows_per_second}
    summary = (
        f"{rows_per_second:,.0f} rows/s ({measured.requests_per_second:,.1f} req/s x {size:,}), "
        f"p50 {measured.p50_ms:.0f} ms, p99 {measured.p99_ms:.0f} ms, {measured.errors} errors"
    )
    met = rows_per_second >= TARGET_ROWS_PER_SECOND and measured.errors == 0
    http = Row(
        SECTION, f"mlapp HTTP c={connections}", summary, values, f">= {TARGET_ROWS_PER_SECOND:,} rows/s, 0 errors", met
    )
    return [http, _in_process(ctx, champion, batches)]
