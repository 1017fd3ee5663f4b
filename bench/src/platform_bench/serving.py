"""Single-record POST /predict: mlapp beside the framework's ceiling and beside `mlflow models serve`.

All three serve the champion (the ceiling only pretends to) with the same number of workers, on this machine,
at each concurrency of the config. Each gets the same stream of distinct records, each in its own body format
(mlflow's is `{"dataframe_records": [record]}`). Before any load, one record is priced by mlapp and by mlflow
serve: both must answer 200 with the same price from the same model version, so the comparison is between
servers doing the same work.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import requests

from local_platform.processes import free_port
from platform_bench import loadtest, servers, synthetic, wrk
from platform_bench.context import BenchContext
from platform_bench.report import Row
from platform_bench.training import ensure_champion

log = logging.getLogger("bench")

SECTION = "serving"
RECORDS = 10_000  # distinct bodies per file; wrk cycles through them
SEED = 11
TARGET_CEILING_RATIO = 0.7  # mlapp req/s >= 0.7 x the ceiling's, at TARGET_CONCURRENCY
TARGET_MLFLOW_RATIO = 5.0  # mlapp req/s >= 5 x mlflow serve's, at every concurrency
TARGET_P99_MS = 15.0  # mlapp p99 at TARGET_CONCURRENCY
TARGET_CONCURRENCY = 16
MLAPP, CEILING, MLFLOW = "mlapp", "flask ceiling", "mlflow serve"


def mlapp_body(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


def mlflow_body(record: dict[str, Any]) -> str:
    """The same record in MLflow's scoring-server format."""
    return json.dumps({"dataframe_records": [record]}, separators=(",", ":"))


def _post(url: str, body: str) -> Any:
    answer = requests.post(url, data=body, headers={"Content-Type": wrk.JSON_TYPE}, timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:500]}")
    return answer.json()


def check_same_model(mlapp_url: str, mlflow_url: str, record: dict[str, Any], champion: dict[str, Any]) -> float:
    """mlapp and mlflow serve price `record` alike, with the champion's version; returns the price."""
    mine = _post(mlapp_url, mlapp_body(record))
    theirs = _post(mlflow_url, mlflow_body(record))["predictions"][0]
    if int(mine["model"]["version"]) != int(champion["version"]):
        raise RuntimeError(f"mlapp serves version {mine['model']['version']}, not the champion {champion['version']}")
    if not math.isclose(mine["result"], theirs, rel_tol=1e-6):
        raise RuntimeError(f"mlapp priced the house {mine['result']} but mlflow serve {theirs}: not the same model")
    return float(mine["result"])


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def _rows(
    results: dict[tuple[str, int], loadtest.Measured], concurrencies: tuple[int, ...], setting: dict[str, Any]
) -> list[Row]:
    rows: list[Row] = []
    for c in concurrencies:
        mine, top, theirs = results[(MLAPP, c)], results[(CEILING, c)], results[(MLFLOW, c)]
        if c == TARGET_CONCURRENCY:
            target = f"p99 <= {TARGET_P99_MS:g} ms, 0 errors"
            met = mine.p99_ms <= TARGET_P99_MS and mine.errors == 0
        else:
            target, met = "0 errors", mine.errors == 0
        rows.append(Row(SECTION, f"mlapp c={c}", mine.summary(), {**mine.values(), **setting}, target, met))
        for other in (top, theirs):
            rows.append(Row(SECTION, f"{other.target} c={c}", other.summary(), {**other.values(), **setting}))
        versus_ceiling = _ratio(mine.requests_per_second, top.requests_per_second)
        ceiling_target = c == TARGET_CONCURRENCY
        rows.append(
            Row(
                SECTION,
                f"mlapp / flask ceiling c={c}",
                f"{versus_ceiling:.2f} x",
                {"ratio": versus_ceiling},
                f">= {TARGET_CEILING_RATIO:g} x" if ceiling_target else "",
                versus_ceiling >= TARGET_CEILING_RATIO if ceiling_target else None,
            )
        )
        versus_mlflow = _ratio(mine.requests_per_second, theirs.requests_per_second)
        rows.append(
            Row(
                SECTION,
                f"mlapp / mlflow serve c={c}",
                f"{versus_mlflow:.1f} x",
                {"ratio": versus_mlflow},
                f">= {TARGET_MLFLOW_RATIO:g} x",
                versus_mlflow >= TARGET_MLFLOW_RATIO,
            )
        )
    return rows


def run(ctx: BenchContext) -> list[Row]:
    champion = ensure_champion(ctx)
    records = synthetic.records(RECORDS, SEED)
    folder = ctx.work_dir / SECTION
    json_bodies = wrk.write_bodies(folder / "predict.jsonl", map(mlapp_body, records))
    mlflow_bodies = wrk.write_bodies(folder / "mlflow.jsonl", map(mlflow_body, records))
    log.info("starting the servers", extra={"champion": champion, "workers": ctx.config.workers})
    servers.start_mlapp(ctx)  # loads its model while the other two start
    top = servers.ceiling(ctx, free_port())
    theirs = servers.mlflow_serve(ctx, champion, free_port())
    with servers.running(top, theirs):
        mlapp = servers.mlapp(ctx)
        price = check_same_model(mlapp.url("/predict"), theirs.url("/invocations"), records[0], champion)
        log.info("mlapp and mlflow serve agree", extra={"price": price, "champion": champion})
        _post(top.url("/predict"), mlapp_body(records[0]))
        targets = [
            loadtest.Target(MLAPP, mlapp.url("/predict"), json_bodies),
            loadtest.Target(CEILING, top.url("/predict"), json_bodies),
            loadtest.Target(MLFLOW, theirs.url("/invocations"), mlflow_bodies),
        ]
        results = loadtest.measure(ctx, targets, ctx.config.concurrencies)
    return _rows(results, ctx.config.concurrencies, {"workers": ctx.config.workers, "model": champion})
