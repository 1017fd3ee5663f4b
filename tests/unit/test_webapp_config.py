"""webapp's configuration: the secret key rules (required in production, shared by workers locally), limits, URLs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from common.settings import ConfigError, Settings
from tests.unit import webapp_support as ws
from webapp.app import create_app
from webapp.config import WebappConfig


def settings(tmp_path: Path) -> Settings:
    return Settings.from_env("webapp", {"GCP_PROJECT": "unit", "PLATFORM_DATA_DIR": str(tmp_path)})


def test_defaults_and_env_values(tmp_path: Path) -> None:
    config = WebappConfig.from_env({"SECRET_KEY": ws.SECRET}, settings=settings(tmp_path))
    assert config.mlapp_url == "http://127.0.0.1:8081"
    assert config.dbapp_url == "http://127.0.0.1:8082"
    assert config.max_upload_bytes == 20 * 1024 * 1024
    assert (config.connect_timeout, config.read_timeout) == (1.0, 5.0)
    custom = WebappConfig.from_env(
        {"SECRET_KEY": ws.SECRET, "MLAPP_URL": "http://mlapp.web.svc.cluster.local:8081/", "MAX_UPLOAD_MB": "5"},
        settings=settings(tmp_path),
    )
    assert custom.mlapp_url == "http://mlapp.web.svc.cluster.local:8081"
    assert custom.max_upload_bytes == 5 * 1024 * 1024


@pytest.mark.parametrize("raw", ["lots", "0", "-3", "1.5"])
def test_a_bad_upload_limit_fails_naming_the_variable(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="MAX_UPLOAD_MB"):
        WebappConfig.from_env({"SECRET_KEY": ws.SECRET, "MAX_UPLOAD_MB": raw}, settings=settings(tmp_path))


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path, monkeypatch) -> None:
    env = {"WEBAPP_REQUIRE_SECRET": "true"}
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        WebappConfig.from_env(env, settings=settings(tmp_path))
    monkeypatch.setenv("WEBAPP_REQUIRE_SECRET", "true")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app(settings=settings(tmp_path))  # what gunicorn calls: the environment, read at start-up
    assert not (tmp_path / "webapp" / "secret_key").exists()


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        WebappConfig.from_env({"SECRET_KEY": "short"}, settings=settings(tmp_path))


def test_locally_a_missing_key_is_generated_once_and_shared(tmp_path: Path, caplog) -> None:
    first = WebappConfig.from_env({}, settings=settings(tmp_path))
    second = WebappConfig.from_env({}, settings=settings(tmp_path))  # another worker, or the next start
    key = first.secret_key.get_secret_value()
    assert key == second.secret_key.get_secret_value() and len(key) >= 32
    assert key not in repr(first)  # a logged or printed config shows the key masked
    path = tmp_path / "webapp" / "secret_key"
    assert path.read_text() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "SECRET_KEY is not set" in caplog.text
    other = WebappConfig.from_env({}, settings=settings(tmp_path / "elsewhere"))
    assert other.secret_key != first.secret_key
