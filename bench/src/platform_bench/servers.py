"""The HTTP servers the serving sections measure, started with the platform's own launchers. mlapp, the ceiling and
the peers (MLServer, BentoML) run once for all sections (`shared`); every other server is stopped by the section
that started it.

mlapp, the ceiling app and webapp run under gunicorn exactly as `make up` runs them
(`local_platform.components.gunicorn_service`), with `GUNICORN_WORKERS` = the bench's worker count and every
other gunicorn setting (threads, worker class) left to the shared configuration, so all of them get the same.
`mlflow models serve` is what a user would run instead of mlapp.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from local_platform import components
from local_platform.processes import Child, free_port, http_ok, run_together
from platform_bench.context import BenchContext

log = logging.getLogger("bench")

START_TIMEOUT_SECONDS = 180.0  # mlapp and mlflow serve download and load the model before they are ready
MLAPP_CONF = "mlapp.gunicorn_conf"
SHARED_MLAPP, SHARED_CEILING = "mlapp", "ceiling"  # keys of running servers in BenchContext.shared


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str
    child: Child  # not started until `running`
    ready: Callable[[], bool]

    def url(self, path: str) -> str:
        return self.base_url + path


def _metrics_dir(ctx: BenchContext, name: str, port: int) -> str:
    """A fresh prometheus_client multiprocess folder (gunicorn's services count across workers in it)."""
    path = ctx.work_dir / "metrics" / f"{name}-{port}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return str(path)


def gunicorn_env(ctx: BenchContext, name: str, port: int) -> dict[str, str]:
    return {
        **ctx.env(),
        "GUNICORN_WORKERS": str(ctx.config.workers),
        "PROMETHEUS_MULTIPROC_DIR": _metrics_dir(ctx, name, port),
    }


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[None]:
    """Start the servers that are not running yet, wait until each is ready, and on the way out stop (together)
    those it started; a shared server (`shared`) keeps running for the next section."""
    started = [server for server in servers if not server.child.running]
    try:
        for server in started:
            server.child.start()
        for server in servers:
            server.child.wait_ready(server.ready, timeout=START_TIMEOUT_SECONDS)
            log.info("server ready", extra={"server": server.name, "url": server.base_url})
        yield
    finally:
        run_together([server.child.stop for server in started])


def shared(ctx: BenchContext, key: str, make: Callable[[], Server]) -> Server:
    """The server `make` builds, started once and kept for every section that asks for `key` (a start-up that
    loads a model takes tens of seconds, MLServer's stop 5 s); owned by the stack, which stops it at the end of
    the bench. Returns at once; `running` or `wait_ready` waits until it is ready."""
    server = ctx.shared.get(key)
    if server is None:
        server = make()
        ctx.stack.children.append(server.child)
        server.child.start()
        ctx.shared[key] = server
    return cast(Server, server)


def _gunicorn(ctx: BenchContext, name: str, app: str, port: int) -> Child:
    """`app` under mlapp's gunicorn configuration, as `make up` starts mlapp."""
    env = gunicorn_env(ctx, name, port)
    return components.gunicorn_service(name, app, port, env, ctx.logs_dir / f"{name}.log", config=MLAPP_CONF)


def start_mlapp(ctx: BenchContext) -> Server:
    """mlapp serving the champion alias on the stack's mlapp port, shared by every section that needs it."""

    def make() -> Server:
        port = ctx.stack.ports.mlapp
        child = _gunicorn(ctx, "mlapp", "mlapp.app:create_app()", port)
        # /readyz is 503 until the model is loaded, which http_ok counts as not ready
        return Server("mlapp", f"http://127.0.0.1:{port}", child, http_ok(f"http://127.0.0.1:{port}/readyz"))

    return shared(ctx, SHARED_MLAPP, make)


def mlapp(ctx: BenchContext) -> Server:
    """The shared mlapp once it has loaded a model (`/readyz` answers 200)."""
    server = start_mlapp(ctx)
    server.child.wait_ready(server.ready, timeout=START_TIMEOUT_SECONDS)
    return server


def ceiling(ctx: BenchContext) -> Server:
    """The constant-answer Flask app under mlapp's own gunicorn configuration, on a free port, started once."""

    def make() -> Server:
        port = free_port()
        child = _gunicorn(ctx, "ceiling", "platform_bench.ceiling_app:create_app()", port)
        return Server("flask ceiling", f"http://127.0.0.1:{port}", child, components.service_ready(port))

    return shared(ctx, SHARED_CEILING, make)


def mlflow_serve(ctx: BenchContext, champion: dict[str, Any], port: int) -> Server:
    """`mlflow models serve` on the same model version, in this environment (`--env-manager local`).

    MLflow loads our skops models with the trusted types recorded in their MLmodel file, and only when
    `MLFLOW_ALLOW_PICKLE_DESERIALIZATION` is true (MLflow 3.17's default; set explicitly because it is the
    switch that lets a model file choose its own trusted types, and the bench trusts its own registry)."""
    uri = f"models:/{champion['name']}/{champion['version']}"
    mlflow_cli = components.python_tool("mlflow")
    cmd = [mlflow_cli, "models", "serve", "-m", uri, "--env-manager", "local"]
    cmd += ["-h", "127.0.0.1", "-p", str(port), "-w", str(ctx.config.workers)]
    # it starts `uvicorn` by name through a shell: from this environment, also when the bench runs without it on PATH
    path = os.pathsep.join([os.path.dirname(mlflow_cli), os.environ.get("PATH", "")])
    env = {**ctx.env(), "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true", "PATH": path}
    child = Child("mlflow-serve", cmd, env=env, log_path=ctx.logs_dir / "mlflow-serve.log")
    return Server("mlflow serve", f"http://127.0.0.1:{port}", child, http_ok(f"http://127.0.0.1:{port}/ping"))


def webapp(ctx: BenchContext, port: int, mlapp_url: str) -> Server:
    # The bench measures the form's round trip from one client, not the abuse limit that would refuse it (429).
    env = {**gunicorn_env(ctx, "webapp", port), "MLAPP_URL": mlapp_url, "FORM_RATE_LIMIT_PER_MINUTE": "0"}
    child = components.gunicorn_service("webapp", "webapp.app:create_app()", port, env, ctx.logs_dir / "webapp.log")
    return Server("webapp", f"http://127.0.0.1:{port}", child, components.service_ready(port))
