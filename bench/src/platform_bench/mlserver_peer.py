"""Seldon's MLServer, what KServe runs for MLflow models, serving the same model version as mlapp through the
Open Inference Protocol: a peer in the serving and batch sections.

It runs from its own virtual environment (`work_dir/mlserver-venv`, `peer_env`: MLServer pins its own FastAPI,
uvicorn and MLflow). Its best setting here, found by hand: `parallel_workers` = the bench's worker count with
`OMP_NUM_THREADS=1` (two workers on two cores collapse to seconds per request without it). Facts it needs:
uvloop 0.23 kills its parallel workers at start ("There is no current event loop", an open upstream bug), 0.21
works; it binds 8080-8082 unless told otherwise; its MLflow runtime enforces the logged signature, so integer
columns go as INT64; with parallel workers it does not stop on SIGTERM within 30 s, so it gets a short grace
before SIGKILL.
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import requests

from common import registry
from common.schema import INPUT_FIELDS
from local_platform.processes import Child, free_port
from platform_bench import peer_env, servers
from platform_bench.context import BenchContext
from platform_bench.servers import Server

MLSERVER_REQUIREMENTS = ("mlserver==1.7.1", "mlserver-mlflow==1.7.1", "uvloop==0.21.0")
MODEL = "house-price"
STOP_GRACE_SECONDS = 5.0
DATATYPES = {"int": "INT64", "float": "FP64", "text": "BYTES"}


def oip_body(records: list[dict[str, Any]]) -> str:
    """Records as one OIP request: a column per field, typed as the logged signature wants them."""
    inputs = [
        {"name": f.name, "shape": [len(records)], "datatype": DATATYPES[f.kind], "data": [r[f.name] for r in records]}
        for f in INPUT_FIELDS
    ]
    return json.dumps({"inputs": inputs, "parameters": {"content_type": "pd"}}, separators=(",", ":"))


def first_price(answer: dict[str, Any]) -> float:
    return float(answer["outputs"][0]["data"][0])


def _model_folder(ctx: BenchContext, champion: dict[str, Any]) -> Path:
    """The champion's logged model, downloaded from the bench's MLflow, under MLServer's model settings."""
    from mlflow.artifacts import download_artifacts

    folder = ctx.work_dir / "mlserver"
    shutil.rmtree(folder, ignore_errors=True)
    model_dir = folder / MODEL
    model_dir.mkdir(parents=True)
    tracking = ctx.env()["MLFLOW_TRACKING_URI"]
    files = registry.artifact_location(registry.model_uri(champion["name"], champion["version"]), tracking)
    local = download_artifacts(artifact_uri=files, dst_path=str(model_dir / "model"), tracking_uri=tracking)
    settings = {"name": MODEL, "implementation": "mlserver_mlflow.MLflowRuntime", "parameters": {"uri": local}}
    (model_dir / "model-settings.json").write_text(json.dumps(settings))
    return folder


def mlserver(ctx: BenchContext, champion: dict[str, Any]) -> Server:
    """MLServer serving `champion` on a free port, started once for every section (`servers.shared`)."""
    return servers.shared(ctx, f"mlserver {champion['version']}", lambda: _mlserver(ctx, champion, free_port()))


def _mlserver(ctx: BenchContext, champion: dict[str, Any], port: int) -> Server:
    """MLServer on `port` (its gRPC and metrics ports on free ones), not yet started."""
    command = peer_env.ensure_venv(ctx, "mlserver-venv", MLSERVER_REQUIREMENTS, "mlserver")
    folder = _model_folder(ctx, champion)
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": ctx.config.workers,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    env = {"OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": ctx.env()["MLFLOW_TRACKING_URI"]}
    child = Child(
        "mlserver",
        [str(command), "start", str(folder)],
        env=env,
        cwd=folder,  # it keeps its metrics files under ./.metrics
        log_path=ctx.logs_dir / "mlserver.log",
        stop_grace=STOP_GRACE_SECONDS,
    )
    return Server("mlserver", f"http://127.0.0.1:{port}", child, partial(_model_ready, port))


def _model_ready(port: int) -> bool:
    """200 once every parallel worker has the model (before that the route answers 400, "Model not found")."""
    try:
        return requests.get(f"http://127.0.0.1:{port}/v2/models/{MODEL}/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def infer_path() -> str:
    return f"/v2/models/{MODEL}/infer"
