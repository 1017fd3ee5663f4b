"""One way to start any of the three services under real gunicorn for a test: the launcher `make up` uses, a
free port, ready when `/healthz` answers (and, when asked, once every worker logged that it is ready)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from local_platform import components
from local_platform.processes import Child, free_port

ServerContext = contextlib.AbstractContextManager[tuple[Child, str]]


@contextlib.contextmanager
def gunicorn_server(
    name: str,
    env: dict[str, str],
    log_path: Path,
    *,
    workers: int = 2,
    timeout: float = 60.0,
    every_worker: bool = False,
) -> Iterator[tuple[Child, str]]:
    """`name` (webapp, mlapp or dbapp) serving `{name}.app:create_app()`; yields the child and its base URL.

    `every_worker`: also wait until each worker logged "<name> ready to serve", so traffic reaches all of them
    (`/healthz` answers as soon as one is up). `GUNICORN_WORKERS` in `env` wins over `workers`."""
    port = free_port()
    env = {"GUNICORN_WORKERS": str(workers), **env}
    child = components.gunicorn_service(name, f"{name}.app:create_app()", port, env, log_path)
    child.start()
    try:
        child.wait_ready(components.service_ready(port), timeout=timeout)
        if every_worker:
            expected = int(env["GUNICORN_WORKERS"])
            child.wait_ready(lambda: child.tail().count(f'"{name} ready to serve"') >= expected, timeout=timeout)
        yield child, f"http://127.0.0.1:{port}"
    finally:
        child.stop()
