"""Platform configuration, read once from environment variables into one typed, frozen object.

Every value has a default that works on one machine (`make up`), except where no default is safe; those fail
at start-up with a message naming the variable. Invalid values (a non-number `BATCH_SIZE`, a split outside
(0, 1)) fail the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(RuntimeError):
    """A configuration variable is missing or has a value the platform cannot use."""


@dataclass(frozen=True)
class Settings:
    service: str
    data_dir: Path
    landing_bucket: str
    datasets_bucket: str
    gcp_project: str
    pubsub_emulator_host: str | None
    mlflow_tracking_uri: str
    model_name: str
    champion_alias: str
    dbapp_url: str
    dbapp_sqlite_path: Path
    mongo_uri: str | None
    mongo_db: str
    collection_predictions: str
    collection_corrections: str
    batch_size: int
    train_test_split: float
    max_versions: int
    log_level: str

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None, *, require_project: bool = True) -> Settings:
        """`require_project=False` is for jobs whose bus use is optional: without GCP_PROJECT and
        PUBSUB_EMULATOR_HOST, `gcp_project` is then "" instead of a `ConfigError`."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("PLATFORM_DATA_DIR", ".data")).resolve()
        emulator = env.get("PUBSUB_EMULATOR_HOST") or None
        project = env.get("GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT")
        if not project:
            if not emulator and require_project:
                raise ConfigError(
                    "GCP_PROJECT is not set: set it to your Google Cloud project id, or set "
                    "PUBSUB_EMULATOR_HOST to use the local Pub/Sub emulator"
                )
            project = "local-project" if emulator else ""
        return cls(
            service=service,
            data_dir=data_dir,
            landing_bucket=env.get("LANDING_BUCKET", (data_dir / "buckets" / "landing").as_uri()),
            datasets_bucket=env.get("DATASETS_BUCKET", (data_dir / "buckets" / "datasets").as_uri()),
            gcp_project=project,
            pubsub_emulator_host=emulator,
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            model_name=env.get("MODEL_NAME", "house-price"),
            champion_alias=env.get("CHAMPION_ALIAS", "champion"),
            dbapp_url=env.get("DBAPP_URL", "http://127.0.0.1:8082").rstrip("/"),
            dbapp_sqlite_path=Path(env.get("DBAPP_SQLITE_PATH", str(data_dir / "dbapp.sqlite3"))),
            mongo_uri=env.get("MONGO_URI") or None,
            mongo_db=env.get("MONGO_DB", "house_prices"),
            collection_predictions=env.get("COLLECTION_1", "collection_1"),
            collection_corrections=env.get("COLLECTION_2", "collection_2"),
            batch_size=_int(env, "BATCH_SIZE", 1000, minimum=1),
            train_test_split=_fraction(env, "TRAIN_TEST_SPLIT", 0.8),
            max_versions=_int(env, "MAX_VERSIONS", 0, minimum=0),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
        )


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not 0 < value < 1:
        raise ConfigError(f"{name} must be between 0 and 1 (exclusive), got {value}")
    return value


def require(env: Mapping[str, str], name: str, why: str) -> str:
    """Return a variable that has no safe default, or fail naming it and saying what it is for."""
    value = env.get(name)
    if not value:
        raise ConfigError(f"{name} is not set: {why}")
    return value
