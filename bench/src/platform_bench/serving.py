"""Single-record POST /predict: mlapp beside the framework's ceiling, `mlflow models serve` and MLServer.

All four serve the champion (the ceiling only pretends to) with the same number of workers, on this machine,
at each concurrency of the config. Each gets the same stream of distinct records, each in its own body format
(mlflow's is `{"dataframe_records": [record]}`, MLServer's an Open Inference Protocol request). Before any
load, one record is priced by mlapp, mlflow serve and MLServer: all must answer 200 with the same price from
the same model version, so the comparison is between servers doing the same work.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import requests

from local_platform.processes import free_port
from platform_bench import loadtest, mlserver_peer, servers, synthetic, wrk
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
TARGET_MLSERVER_RATIO = 10.0  # mlapp req/s >= 10 x MLServer's at its best setting, at every concurrency
TARGET_CONCURRENCY = 16
MLAPP, CEILING, MLFLOW, MLSERVER = "mlapp", "flask ceiling", "mlflow serve", "mlserver"


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


def check_same_model(
    mlapp_url: str, peers: dict[str, tuple[str, str, Any]], record: dict[str, Any], champion: dict[str, Any]
) -> float:
    """mlapp and every peer (name -> (url, body, price from its answer)) price `record` alike, with the
    champion's version; returns the price."""
    mine = _post(mlapp_url, mlapp_body(record))
    if int(mine["model"]["version"]) != int(champion["version"]):
        raise RuntimeError(f"mlapp serves version {mine['model']['version']}, not the champion {champion['version']}")
    for name, (url, body, price_of) in peers.items():
        theirs = price_of(_post(url, body))
        if not math.isclose(mine["result"], theirs, rel_tol=1e-6):
            raise RuntimeError(f"mlapp priced the house {mine['result']} but {name} {theirs}: not the same model")
    return float(mine["result"])


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def _rows(
    results: dict[tuple[str, int], loadtest.Measured], concurrencies: tuple[int, ...], setting: dict[str, Any]
) -> list[Row]:
    rows: list[Row] = []
    for c in concurrencies:
        mine, top, theirs, seldon = (results[(name, c)] for name in (MLAPP, CEILING, MLFLOW, MLSERVER))
        if c == TARGET_CONCURRENCY:
            target = f"p99 <= {TARGET_P99_MS:g} ms, 0 errors"
            met = mine.p99_ms <= TARGET_P99_MS and mine.errors == 0
        else:
            target, met = "0 errors", mine.errors == 0
        rows.append(Row(SECTION, f"mlapp c={c}", mine.summary(), {**mine.values(), **setting}, target, met))
        for other in (top, theirs, seldon):
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
        versus_mlserver = _ratio(mine.requests_per_second, seldon.requests_per_second)
        rows.append(
            Row(
                SECTION,
                f"mlapp / mlserver c={c}",
                f"{versus_mlserver:.1f} x",
                {"ratio": versus_mlserver},
                f">= {TARGET_MLSERVER_RATIO:g} x",
                versus_mlserver >= TARGET_MLSERVER_RATIO,
            )
        )
    return rows


def run(ctx: BenchContext) -> list[Row]:
    champion = ensure_champion(ctx)
    records = synthetic.records(RECORDS, SEED)
    folder = ctx.work_dir / SECTION
    json_bodies = wrk.write_bodies(folder / "predict.jsonl", map(mlapp_body, records))
    mlflow_bodies = wrk.write_bodies(folder / "mlflow.jsonl", map(mlflow_body, records))
    oip_bodies = wrk.write_bodies(folder / "oip.jsonl", (mlserver_peer.oip_body([r]) for r in records))
    log.info("starting the servers", extra={"champion": champion, "workers": ctx.config.workers})
    servers.start_mlapp(ctx)  # loads its model while the others start
    top = servers.ceiling(ctx, free_port())
    theirs = servers.mlflow_serve(ctx, champion, free_port())
    seldon = mlserver_peer.mlserver(ctx, champion, free_port())
    with servers.running(top, theirs, seldon):
        mlapp = servers.mlapp(ctx)
        peers = {
            MLFLOW: (theirs.url("/invocations"), mlflow_body(records[0]), lambda a: a["predictions"][0]),
            MLSERVER: (seldon.url(mlserver_peer.infer_path()), mlserver_peer.oip_body(records[:1]),
                       mlserver_peer.first_price),
        }  # fmt: skip
        price = check_same_model(mlapp.url("/predict"), peers, records[0], champion)
        log.info("mlapp, mlflow serve and mlserver agree", extra={"price": price, "champion": champion})
        _post(top.url("/predict"), mlapp_body(records[0]))
        targets = [
            loadtest.Target(MLAPP, mlapp.url("/predict"), json_bodies),
            loadtest.Target(CEILING, top.url("/predict"), json_bodies),
            loadtest.Target(MLFLOW, theirs.url("/invocations"), mlflow_bodies),
            loadtest.Target(MLSERVER, seldon.url(mlserver_peer.infer_path()), oip_bodies),
        ]
        results = loadtest.measure(ctx, targets, ctx.config.concurrencies)
    return _rows(results, ctx.config.concurrencies, {"workers": ctx.config.workers, "model": champion})
