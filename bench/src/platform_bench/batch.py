"""Rows/s through mlapp's POST /predict/batch, beside MLServer (Open Inference Protocol) and BentoML on the same
batches, beside the constant-answer Flask app on the same bodies (the framework's ceiling: parse, answer 1,000
constants), and beside the floor of the same work without HTTP.

Over HTTP: distinct batches of `batch_records` records each, `CONNECTIONS_PER_WORKER` requests in flight per
gunicorn worker (one computing while the next is read and parsed; more would only queue). In process, the
floor: the champion loaded the way mlapp loads it (`common.registry`), its own `predict` on the same batches,
one thread, no HTTP, JSON or validation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import requests
from threadpoolctl import threadpool_limits

from common import registry
from platform_bench import bentoml_peer, loadtest, mlserver_peer, servers, synthetic, wrk
from platform_bench.context import BenchContext
from platform_bench.report import Row
from platform_bench.training import ensure_champion

log = logging.getLogger("bench")

SECTION = "batch"
BATCHES = 20  # distinct request bodies
SEED = 13
CONNECTIONS_PER_WORKER = 2
TARGET_ROWS_PER_SECOND = 200_000
TARGET_MLSERVER_RATIO = 3.0  # mlapp rows/s >= 3 x MLServer's on the same batches
TARGET_CEILING_RATIO = 0.4  # mlapp rows/s >= 0.4 x the constant-answer app's on the same bodies


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


def _http_row(name: str, measured: loadtest.Measured, size: int, target: str = "", met: bool | None = None) -> Row:
    rows_per_second = measured.requests_per_second * size
    values = {**measured.values(), "batch_records": size, "rows_per_second": rows_per_second}
    summary = (
        f"{rows_per_second:,.0f} rows/s ({measured.requests_per_second:,.1f} req/s x {size:,}), "
        f"p50 {measured.p50_ms:.0f} ms, p99 {measured.p99_ms:.0f} ms, {measured.errors} errors"
    )
    return Row(SECTION, name, summary, values, target, met)


def _post(url: str, body: str) -> Any:
    answer = requests.post(url, data=body, headers={"Content-Type": wrk.JSON_TYPE}, timeout=60)
    if answer.status_code != 200:
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:500]}")
    return answer.json()


def _check_same_prices(
    mlapp_url: str, peers: dict[str, tuple[str, str, Callable[[Any], list[float]]]], batch: list[dict[str, Any]]
) -> None:
    """mlapp and every peer (name -> (url, body, prices from its answer)) price one batch alike (relative
    1e-6), so the rates compare the same work."""
    mine = _post(mlapp_url, batch_body(batch))["results"]
    for name, (url, body, prices_of) in peers.items():
        theirs = prices_of(_post(url, body))
        same = len(mine) == len(theirs) and all(
            math.isclose(a, b, rel_tol=1e-6) for a, b in zip(mine, theirs, strict=True)
        )
        if not same:
            raise RuntimeError(f"mlapp and {name} price the same batch differently: not the same model")


def _versus(name: str, mine: loadtest.Measured, theirs: loadtest.Measured, connections: int, goal: float | None) -> Row:
    """mlapp's rate over a peer's; `goal` is the issue's target for that peer (None: it sets none)."""
    ratio = mine.requests_per_second / theirs.requests_per_second if theirs.requests_per_second > 0 else math.inf
    target, met = ("", None) if goal is None else (f">= {goal:g} x", ratio >= goal)
    return Row(SECTION, f"mlapp / {name} c={connections}", f"{ratio:.1f} x", {"ratio": ratio}, target, met)


def run(ctx: BenchContext) -> list[Row]:
    champion = ensure_champion(ctx)
    size = ctx.config.batch_records
    records = synthetic.records(BATCHES * size, SEED)
    batches = [records[i : i + size] for i in range(0, len(records), size)]
    bodies = wrk.write_bodies(ctx.work_dir / SECTION / "batches.jsonl", map(batch_body, batches))
    oip_bodies = wrk.write_bodies(ctx.work_dir / SECTION / "oip.jsonl", map(mlserver_peer.oip_body, batches))
    connections = CONNECTIONS_PER_WORKER * ctx.config.workers
    seldon = mlserver_peer.mlserver(ctx, champion)
    bento = bentoml_peer.bentoml_server(ctx, champion)
    top = servers.ceiling(ctx)
    with servers.running(seldon, bento, top):
        mlapp_url = servers.mlapp(ctx).url("/predict/batch")
        seldon_url, bento_url = seldon.url(mlserver_peer.infer_path()), bento.url(bentoml_peer.PREDICT_PATH)
        peers = {
            "mlserver": (seldon_url, mlserver_peer.oip_body(batches[0]), lambda a: a["outputs"][0]["data"]),
            "bentoml": (bento_url, bentoml_peer.body(batches[0]), lambda a: a),
        }
        _check_same_prices(mlapp_url, peers, batches[0])
        targets = [
            loadtest.Target("mlapp /predict/batch", mlapp_url, bodies),
            loadtest.Target("mlserver /infer", seldon_url, oip_bodies),
            loadtest.Target("bentoml /predict", bento_url, bodies),  # the same body as mlapp's
            loadtest.Target("flask ceiling /predict/batch", top.url("/predict/batch"), bodies),
        ]
        results = loadtest.measure(ctx, targets, [connections])
    mine, seldon_measured, bento_measured, top_measured = (results[(t.name, connections)] for t in targets)
    met = mine.requests_per_second * size >= TARGET_ROWS_PER_SECOND and mine.errors == 0
    target = f">= {TARGET_ROWS_PER_SECOND:,} rows/s, 0 errors"
    return [
        _http_row(f"mlapp HTTP c={connections}", mine, size, target, met),
        _http_row(f"mlserver HTTP c={connections}", seldon_measured, size),
        _http_row(f"bentoml HTTP c={connections}", bento_measured, size),
        _http_row(f"flask ceiling HTTP c={connections}", top_measured, size),
        _versus("mlserver", mine, seldon_measured, connections, TARGET_MLSERVER_RATIO),
        _versus("bentoml", mine, bento_measured, connections, None),
        _versus("flask ceiling", mine, top_measured, connections, TARGET_CEILING_RATIO),
        _in_process(ctx, champion, batches),
    ]
