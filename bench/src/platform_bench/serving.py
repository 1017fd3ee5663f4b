"""Single-record POST /predict: mlapp beside the framework's ceiling, `mlflow models serve`, MLServer and BentoML.

All five serve the champion (the ceiling only pretends to) with the same number of workers, on this machine,
at each concurrency of the config. Each gets the same stream of distinct records, each in its own body format
(mlflow's is `{"dataframe_records": [record]}`, MLServer's an Open Inference Protocol request, BentoML's
`{"records": [record]}`). Before any load, one record is priced by mlapp and every peer: all must answer 200
with the same price from the same model version, so the comparison is between servers doing the same work.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import requests

from local_platform.processes import free_port
from platform_bench import bentoml_peer, loadtest, mlserver_peer, servers, synthetic, wrk
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
MLAPP, CEILING, MLFLOW, MLSERVER, BENTOML = "mlapp", "flask ceiling", "mlflow serve", "mlserver", "bentoml"
PEER_TARGETS: dict[str, float | None] = {  # mlapp req/s over the peer's; the issue sets none for BentoML
    CEILING: TARGET_CEILING_RATIO,
    MLFLOW: TARGET_MLFLOW_RATIO,
    MLSERVER: TARGET_MLSERVER_RATIO,
    BENTOML: None,
}


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


def _versus(mine: loadtest.Measured, other: loadtest.Measured, c: int) -> Row:
    """mlapp's rate over a peer's, with the issue's target for that peer (the ceiling's only at
    TARGET_CONCURRENCY)."""
    ratio = _ratio(mine.requests_per_second, other.requests_per_second)
    goal = PEER_TARGETS[other.target] if other.target != CEILING or c == TARGET_CONCURRENCY else None
    summary = f"{ratio:.2f} x" if other.target == CEILING else f"{ratio:.1f} x"
    target, met = ("", None) if goal is None else (f">= {goal:g} x", ratio >= goal)
    return Row(SECTION, f"mlapp / {other.target} c={c}", summary, {"ratio": ratio}, target, met)


def _rows(
    results: dict[tuple[str, int], loadtest.Measured], concurrencies: tuple[int, ...], setting: dict[str, Any]
) -> list[Row]:
    rows: list[Row] = []
    for c in concurrencies:
        mine = results[(MLAPP, c)]
        if c == TARGET_CONCURRENCY:
            target = f"p99 <= {TARGET_P99_MS:g} ms, 0 errors"
            met = mine.p99_ms <= TARGET_P99_MS and mine.errors == 0
        else:
            target, met = "0 errors", mine.errors == 0
        rows.append(Row(SECTION, f"mlapp c={c}", mine.summary(), {**mine.values(), **setting}, target, met))
        others = [results[(name, c)] for name in PEER_TARGETS]
        rows += [Row(SECTION, f"{o.target} c={c}", o.summary(), {**o.values(), **setting}) for o in others]
        rows += [_versus(mine, other, c) for other in others]
    return rows


def run(ctx: BenchContext) -> list[Row]:
    champion = ensure_champion(ctx)
    records = synthetic.records(RECORDS, SEED)
    folder = ctx.work_dir / SECTION
    json_bodies = wrk.write_bodies(folder / "predict.jsonl", map(mlapp_body, records))
    mlflow_bodies = wrk.write_bodies(folder / "mlflow.jsonl", map(mlflow_body, records))
    oip_bodies = wrk.write_bodies(folder / "oip.jsonl", (mlserver_peer.oip_body([r]) for r in records))
    bento_bodies = wrk.write_bodies(folder / "bentoml.jsonl", (bentoml_peer.body([r]) for r in records))
    log.info("starting the servers", extra={"champion": champion, "workers": ctx.config.workers})
    servers.start_mlapp(ctx)  # loads its model while the others start
    top = servers.ceiling(ctx)
    theirs = servers.mlflow_serve(ctx, champion, free_port())
    seldon = mlserver_peer.mlserver(ctx, champion)
    bento = bentoml_peer.bentoml_server(ctx, champion)
    with servers.running(top, theirs, seldon, bento):
        mlapp = servers.mlapp(ctx)
        peers = {
            MLFLOW: (theirs.url("/invocations"), mlflow_body(records[0]), lambda a: a["predictions"][0]),
            MLSERVER: (seldon.url(mlserver_peer.infer_path()), mlserver_peer.oip_body(records[:1]),
                       mlserver_peer.first_price),
            BENTOML: (bento.url(bentoml_peer.PREDICT_PATH), bentoml_peer.body(records[:1]), bentoml_peer.first_price),
        }  # fmt: skip
        price = check_same_model(mlapp.url("/predict"), peers, records[0], champion)
        log.info("mlapp and every peer agree", extra={"price": price, "champion": champion})
        _post(top.url("/predict"), mlapp_body(records[0]))
        targets = [
            loadtest.Target(MLAPP, mlapp.url("/predict"), json_bodies),
            loadtest.Target(CEILING, top.url("/predict"), json_bodies),
            loadtest.Target(MLFLOW, theirs.url("/invocations"), mlflow_bodies),
            loadtest.Target(MLSERVER, seldon.url(mlserver_peer.infer_path()), oip_bodies),
            loadtest.Target(BENTOML, bento.url(bentoml_peer.PREDICT_PATH), bento_bodies),
        ]
        results = loadtest.measure(ctx, targets, ctx.config.concurrencies)
    return _rows(results, ctx.config.concurrencies, {"workers": ctx.config.workers, "model": champion})
