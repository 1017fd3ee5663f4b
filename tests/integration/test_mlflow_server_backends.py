"""The tracking server as our start-up module runs it, on SQLite and on the local PostgreSQL.

- a model logged through the server lands in the `file://` artifacts destination (proxied artifacts, the
  client never writes to storage itself) and loads back through `common.registry`;
- Host headers: the in-cluster name is served, a foreign name gets 403;
- SQLite starts on a fresh database, and restarts on it keeping every experiment, model version and alias;
- PostgreSQL starts on a database left at an older MLflow schema: the start-up upgrades it (`mlflow server`
  alone refuses such a database).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
import sqlalchemy
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from common import registry
from common.features import HouseFeatures
from common.schema import FIELD_NAMES
from common.training.tracking import using_tracking_uri
from mlflow_server.config import with_driver
from tests.conftest import start_mlflow
from tests.integration import training_support as support

pytestmark = pytest.mark.integration


def _schema_revisions(uri: str) -> tuple[str | None, str]:
    """(the database's alembic revision, the installed MLflow's head revision)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    head = ScriptDirectory.from_config(_get_alembic_config(uri)).get_current_head()
    engine = sqlalchemy.create_engine(with_driver(uri))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision(), head
    finally:
        engine.dispose()


def _leave_at_old_schema(uri: str, steps_back: int = 12) -> str:
    """Create MLflow's initial tables and migrate only part of the way, like a database of an older MLflow."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    config = _get_alembic_config(uri)
    old = list(ScriptDirectory.from_config(config).walk_revisions())[steps_back].revision
    engine = sqlalchemy.create_engine(with_driver(uri))
    try:
        InitialBase.metadata.create_all(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, old)
    finally:
        engine.dispose()
    return old


def _small_model():
    rows = support.sample_rows().head(300)
    return Pipeline([("features", HouseFeatures()), ("model", Ridge())]).fit(rows, rows["price"]), rows


def _log_and_register(url: str, model_name: str) -> tuple[str, np.ndarray]:
    pipeline, rows = _small_model()
    client = registry.client(url)
    experiment_id = client.create_experiment(f"server-test-{uuid.uuid4().hex[:8]}")
    assert client.get_experiment(experiment_id).artifact_location.startswith("mlflow-artifacts:")
    with using_tracking_uri(url), mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(
            pipeline, name="model", skops_trusted_types=list(registry.TRUSTED_TYPES), pip_requirements=[]
        )
    version = registry.register_version(
        client,
        model_name,
        info.model_uri,
        run_id=run.info.run_id,
        model_id=info.model_id,
        tags={"family": "server_test"},
    )
    registry.set_champion(client, model_name, version.version)
    return experiment_id, pipeline.predict(rows.head(5))


def _check_host_headers(url: str) -> None:
    path = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
    inside = requests.get(path, headers={"Host": "mlflow.ml.svc.cluster.local:5000"}, timeout=10)
    assert inside.status_code == 200, inside.text
    foreign = requests.get(path, headers={"Host": "mlflow.evil.example.com"}, timeout=10)
    assert foreign.status_code == 403
    assert requests.get(f"{url}/health", headers={"Host": "mlflow.evil.example.com"}, timeout=10).status_code == 200


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_WORKERS", "1")  # the server inherits it; one worker starts twice as fast on 2 cores


def _use_the_server(url: str, root: Path, model_name: str) -> tuple[str, np.ndarray]:
    experiment_id, expected = _log_and_register(url, model_name)
    # Proxied: the files are in the server's file:// destination under the data folder.
    assert list((root / "mlartifacts").rglob("model.skops")), "no model under the artifacts destination"
    loaded = registry.load_model(registry.model_uri(model_name, alias="champion"), url)
    np.testing.assert_array_equal(loaded.predict(support.sample_rows().head(5)), expected)
    _check_host_headers(url)
    return experiment_id, expected


def test_sqlite_server_proxies_artifacts_checks_hosts_and_survives_a_restart(tmp_path: Path, logs_dir: Path) -> None:
    root = tmp_path / "mlflow"
    model_name = support.unique_model_name()
    child, url = start_mlflow(root, logs_dir)  # the default backend: SQLite under the data folder
    try:
        experiment_id, expected = _use_the_server(url, root, model_name)
    finally:
        child.stop()
    current, head = _schema_revisions(f"sqlite:///{root / 'mlflow.db'}")
    assert current == head

    # Restart on the same database: everything is still there and the model still loads.
    child, url = start_mlflow(root, logs_dir)
    try:
        client = registry.client(url)
        assert client.get_experiment(experiment_id).lifecycle_stage == "active"
        champion = registry.get_champion(client, model_name)
        assert champion is not None and champion.version == "1" and champion.tags["family"] == "server_test"
        rows = support.sample_rows().head(5).loc[:, list(FIELD_NAMES)]
        np.testing.assert_array_equal(registry.load_version(url, model_name, 1).predict(rows), expected)
    finally:
        child.stop()


def test_postgresql_server_upgrades_an_older_schema_and_proxies_artifacts(
    postgres_database: str, tmp_path: Path, logs_dir: Path
) -> None:
    old = _leave_at_old_schema(postgres_database)
    current, head = _schema_revisions(postgres_database)
    assert current == old != head
    root = tmp_path / "mlflow"
    child, url = start_mlflow(root, logs_dir, postgres_database)  # `mlflow server` alone refuses this database
    try:
        _use_the_server(url, root, support.unique_model_name())
    finally:
        child.stop()
    assert _schema_revisions(postgres_database)[0] == head
