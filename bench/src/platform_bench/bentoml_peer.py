"""BentoML serving the same model version as mlapp: a peer in the serving and batch sections.

What a BentoML user would run: the version imported into BentoML's model store with
`bentoml.mlflow.import_model`, then `bentoml serve` of a service that loads it with `bentoml.mlflow.load_model`
(an MLflow pyfunc) and answers JSON. The service and the import script live in `bench/bentoml_service/`; they
run from the peer's own virtual environment (`work_dir/bentoml-venv`, `peer_env`), with the workspace's MLflow
version beside BentoML so the pyfunc loader reads the model as the platform logged it.

Its best setting here, measured on 2 cores: `workers` = the bench's worker count (2 served 1.7 to 2.1 times
what 1 did, single records and batches alike) with `OMP_NUM_THREADS=1` (without it two workers collapse to
seconds per request). Facts it needs: its workers run in process groups of their own, so it is stopped with
SIGTERM to `bentoml serve`, which stops them (1 to 2 s); its model store is `BENTOML_HOME` (else
`~/bentoml`); `BENTOML_DO_NOT_TRACK` turns off its usage reports, which have no network here.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import requests

from common import registry
from local_platform.processes import Child, free_port
from platform_bench import peer_env, servers
from platform_bench.context import BenchContext
from platform_bench.servers import Server

BENTOML_REQUIREMENTS = ("bentoml==1.4.40",)
SERVICE_DIR = peer_env.REPO_ROOT / "bench" / "bentoml_service"
SERVICE = "service:HousePrice"
PREDICT_PATH = "/predict"
IMPORT_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 10.0


def body(records: list[dict[str, Any]]) -> str:
    """Records as the service's one JSON argument (the same body as mlapp's `/predict/batch`)."""
    return json.dumps({"records": records}, separators=(",", ":"))


def first_price(answer: list[float]) -> float:
    return float(answer[0])


def _requirements() -> list[str]:
    import mlflow

    return [*BENTOML_REQUIREMENTS, f"mlflow=={mlflow.__version__}"]


def _env(ctx: BenchContext) -> dict[str, str]:
    """BentoML's store under the work folder, MLflow's server; `MLFLOW_ALLOW_PICKLE_DESERIALIZATION` as for
    `mlflow models serve` (see `servers.mlflow_serve`)."""
    return {
        "BENTOML_HOME": str(ctx.work_dir / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_TRACKING_URI": ctx.env()["MLFLOW_TRACKING_URI"],
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "OMP_NUM_THREADS": "1",
    }


def _import_model(ctx: BenchContext, python: Path, champion: dict[str, Any]) -> str:
    """The champion imported into BentoML's store (once per bench run); returns its BentoML tag."""
    tag = f"{champion['name']}:{champion['version']}"
    if (ctx.work_dir / "bentoml-home" / "models" / champion["name"] / str(champion["version"])).is_dir():
        return tag
    uri = registry.model_uri(champion["name"], champion["version"])
    cmd = [str(python), str(SERVICE_DIR / "import_model.py"), uri, tag]
    job = Child("bentoml-import", cmd, env=_env(ctx), log_path=ctx.logs_dir / "bentoml-import.log").start()
    code = job.wait(timeout=IMPORT_TIMEOUT_SECONDS)
    if code != 0:
        raise RuntimeError(f"importing {uri} into BentoML failed (exit {code}):\n{job.tail()}")
    return tag


def bentoml_server(ctx: BenchContext, champion: dict[str, Any]) -> Server:
    """`bentoml serve` of `champion` on a free port, started once for every section (`servers.shared`)."""
    key = f"bentoml {champion['version']}"
    return servers.shared(ctx, key, lambda: _bentoml_server(ctx, champion, free_port()))


def _bentoml_server(ctx: BenchContext, champion: dict[str, Any], port: int) -> Server:
    """`bentoml serve` of the champion on `port`, with the bench's worker count, not yet started."""
    command = peer_env.ensure_venv(ctx, "bentoml-venv", _requirements(), "bentoml")
    tag = _import_model(ctx, command.with_name("python"), champion)
    cmd = serve_command(command, port, tag, ctx.config.workers)
    child = Child("bentoml", cmd, env=_env(ctx), log_path=ctx.logs_dir / "bentoml.log", stop_grace=STOP_GRACE_SECONDS)
    return Server("bentoml", f"http://127.0.0.1:{port}", child, partial(_ready, port))


def serve_command(bentoml: Path, port: int, tag: str, workers: int) -> list[str]:
    """`bentoml serve` of the service on loopback; the `--arg`s are the service's `Arguments`."""
    cmd = [str(bentoml), "serve", SERVICE, "--working-dir", str(SERVICE_DIR), "--host", "127.0.0.1"]
    return [*cmd, "--port", str(port), "--arg", f"model={tag}", "--arg", f"workers={workers}"]


def _ready(port: int) -> bool:
    """200 once a worker serves: each loads the model before it accepts connections on the shared socket."""
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
