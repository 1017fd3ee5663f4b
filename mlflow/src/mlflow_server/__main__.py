"""Start the MLflow tracking server: prepare the backend store (upgrade an existing schema), then exec
`mlflow server` with the artifact proxy so clients never need bucket credentials."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from common.jsonlog import configure_logging
from mlflow_server.config import ServerConfig

log = logging.getLogger("mlflow-server")


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") - 1 :]) if uri.startswith("sqlite:////") else Path(uri[len("sqlite:///") :])


def prepare_backend_store(uri: str) -> None:
    """Create the SQLite folder, and upgrade the schema of a database that already holds MLflow tables.

    A fresh database is initialised by `mlflow server` itself; an existing one from an older MLflow would
    otherwise make the server refuse to start ("out-of-date database schema").
    """
    sqlite = _sqlite_path(uri)
    if sqlite is not None:
        sqlite.parent.mkdir(parents=True, exist_ok=True)
        if not sqlite.exists():
            return
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri)
    try:
        has_schema = sqlalchemy.inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()
    if has_schema:
        log.info("upgrading the MLflow database schema if needed")
        subprocess.run([_mlflow_executable(), "db", "upgrade", uri], check=True)


def _mlflow_executable() -> str:
    beside = Path(sys.executable).with_name("mlflow")
    found = str(beside) if beside.exists() else shutil.which("mlflow")
    if not found:
        raise SystemExit("the `mlflow` command is not installed in this environment")
    return found


def prepare_artifacts(destination: str) -> None:
    parsed = urlparse(destination)
    if parsed.scheme == "file":
        Path(parsed.path).mkdir(parents=True, exist_ok=True)


def main() -> None:
    configure_logging("mlflow")
    config = ServerConfig.from_env()
    prepare_backend_store(config.backend_store_uri)
    prepare_artifacts(config.artifacts_destination)
    executable = _mlflow_executable()
    log.info("starting mlflow server on %s:%s", config.host, config.port)
    os.execv(executable, [executable, *config.server_args()])


if __name__ == "__main__":
    main()
