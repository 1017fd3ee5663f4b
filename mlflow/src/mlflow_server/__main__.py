"""Start the MLflow tracking server: prepare the backend store (upgrade an existing schema), then run
`mlflow server` with the artifact proxy so clients never need bucket credentials.

Both `mlflow db upgrade` and `mlflow server` run in this process (MLflow's own command line, called in
process), so MLflow is imported once: a restart does not pay for a second interpreter start-up.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlparse

from common.jsonlog import configure_logging
from common.settings import ConfigError
from mlflow_server.config import ServerConfig

log = logging.getLogger("mlflow-server")


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])  # sqlite:////abs/file.db -> /abs/file.db; sqlite:///rel.db -> rel.db


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
    except sqlalchemy.exc.OperationalError as exc:
        shown = engine.url.render_as_string(hide_password=True)
        raise SystemExit(f"cannot reach the MLflow backend store {shown}: {exc.orig}") from None
    finally:
        engine.dispose()
    if has_schema:
        log.info("upgrading the MLflow database schema if needed")
        _mlflow(["db", "upgrade", uri], standalone=False)


def _mlflow(args: list[str], *, standalone: bool) -> None:
    """Run MLflow's command line in this process; `standalone` exits the process when the command ends."""
    from mlflow.cli import cli

    cli.main(args=args, prog_name="mlflow", standalone_mode=standalone)


def prepare_artifacts(destination: str) -> None:
    parsed = urlparse(destination)
    if parsed.scheme == "file":
        Path(parsed.path).mkdir(parents=True, exist_ok=True)


def main() -> None:
    try:
        configure_logging("mlflow")
        config = ServerConfig.from_env()
    except ConfigError as exc:
        raise SystemExit(f"mlflow-server: {exc}") from None
    prepare_backend_store(config.backend_store_uri.get_secret_value())
    prepare_artifacts(config.artifacts_destination)
    log.info("starting mlflow server on %s:%s", config.host, config.port)
    os.environ.update(config.server_env())
    _mlflow(config.server_args(), standalone=True)


if __name__ == "__main__":
    main()
