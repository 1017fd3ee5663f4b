"""The tracking server's configuration: defaults, overrides, clear errors, and arguments the installed
`mlflow server` accepts, with a Host allow-list that admits in-cluster names and refuses others."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.cli import server as mlflow_server_command
from mlflow.server.security_utils import is_allowed_host_header

from common.settings import ConfigError
from mlflow_server.__main__ import _sqlite_path
from mlflow_server.config import ServerConfig, with_driver


def test_defaults_keep_everything_under_the_data_folder(tmp_path: Path) -> None:
    config = ServerConfig.from_env({"PLATFORM_DATA_DIR": str(tmp_path)})
    assert config.backend_store_uri.get_secret_value() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert config.artifacts_destination == (tmp_path / "mlartifacts").as_uri()
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 5000, 2)
    assert config.server_env() == {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def test_every_variable_overrides_its_default() -> None:
    config = ServerConfig.from_env(
        {
            "MLFLOW_BACKEND_STORE_URI": "postgresql://mlflow:secret@db:5432/mlflow",
            "MLFLOW_ARTIFACTS_DESTINATION": "gs://artifacts/mlflow",
            "MLFLOW_HOST": "0.0.0.0",
            "MLFLOW_PORT": "5001",
            "MLFLOW_WORKERS": "4",
            "MLFLOW_EXTRA_ALLOWED_HOSTS": " mlflow.example.com , *.corp.example ",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true",
        }
    )
    assert config.server_env() == {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"}
    assert config.backend_store_uri.get_secret_value() == "postgresql+psycopg2://mlflow:secret@db:5432/mlflow"
    assert "secret" not in repr(config)  # the password never reaches a log line or a traceback
    assert config.artifacts_destination == "gs://artifacts/mlflow"
    assert (config.host, config.port, config.workers) == ("0.0.0.0", 5001, 4)
    assert config.allowed_hosts.endswith(",mlflow.example.com,*.corp.example")


@pytest.mark.parametrize(
    ("name", "value"),
    [("MLFLOW_PORT", "http"), ("MLFLOW_PORT", "0"), ("MLFLOW_PORT", "70000"), ("MLFLOW_WORKERS", "0")],
)
def test_a_bad_number_fails_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        ServerConfig.from_env({name: value})


@pytest.mark.parametrize(
    "host",
    [
        "mlflow.ml.svc.cluster.local:5000",
        "mlflow.ml.svc.cluster.local",
        "mlflow.ml.svc:5000",
        "mlflow.ml:5000",
        "mlflow:5000",
        "localhost:5000",
        "127.0.0.1:5000",
        "10.12.0.7:5000",
        "172.20.1.1:5000",
        "192.168.1.5:5000",
    ],
)
def test_in_cluster_and_local_hosts_are_allowed(host: str) -> None:
    allowed = ServerConfig.from_env({}).allowed_hosts.split(",")
    assert is_allowed_host_header(allowed, host)


@pytest.mark.parametrize("host", ["evil.example.com", "mlflow.evil.example.com:5000", "8.8.8.8:5000", "172.32.0.1"])
def test_foreign_hosts_are_refused(host: str) -> None:
    allowed = ServerConfig.from_env({}).allowed_hosts.split(",")
    assert not is_allowed_host_header(allowed, host)


def test_extra_hosts_are_allowed_too() -> None:
    allowed = ServerConfig.from_env({"MLFLOW_EXTRA_ALLOWED_HOSTS": "mlflow.example.com"}).allowed_hosts.split(",")
    assert is_allowed_host_header(allowed, "mlflow.example.com")


def test_the_installed_mlflow_server_accepts_the_arguments(tmp_path: Path) -> None:
    config = ServerConfig.from_env({"PLATFORM_DATA_DIR": str(tmp_path), "MLFLOW_PORT": "5123"})
    args = config.server_args()
    assert args[0] == "server"
    context = mlflow_server_command.make_context("server", args[1:])  # parses only; nothing starts
    params = context.params
    assert params["backend_store_uri"] == config.backend_store_uri.get_secret_value()
    assert params["artifacts_destination"] == config.artifacts_destination
    assert params["serve_artifacts"] is True
    assert params["port"] == 5123 and params["host"] == "127.0.0.1"
    assert str(params["workers"]) == "2"
    assert params["allowed_hosts"] == config.allowed_hosts


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:////abs/mlflow.db", Path("/abs/mlflow.db")),
        ("sqlite:///rel/mlflow.db", Path("rel/mlflow.db")),
        ("postgresql://db/mlflow", None),
    ],
)
def test_sqlite_paths_are_recognised(uri: str, path: Path | None) -> None:
    assert _sqlite_path(uri) == path


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgresql://u:p@db/mlflow", "postgresql+psycopg2://u:p@db/mlflow"),
        ("postgres://u@db/mlflow", "postgresql+psycopg2://u@db/mlflow"),
        ("postgresql+psycopg://u@db/mlflow", "postgresql+psycopg://u@db/mlflow"),
        ("sqlite:////data/mlflow.db", "sqlite:////data/mlflow.db"),
    ],
)
def test_postgresql_uris_get_the_installed_driver(uri: str, expected: str) -> None:
    """SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not installed; psycopg2 is."""
    assert with_driver(uri) == expected
