"""Platform configuration, read once from environment variables into one typed, frozen object.

Every value has a default that works on one machine (`make up`), except where no default is safe; those fail
at start-up with a message naming the variable. Invalid values (a non-number `BATCH_SIZE`, a split outside
(0, 1)) fail the same way.

Each component reads the environment in exactly one place: its own config object (`webapp.config`,
`mlapp.config`, `dbapp.config`, `data_versioning.config`, `common.training.config`, `mlflow_server.config`,
`local_platform.config`, `common.server_settings` for gunicorn), built from this `Settings` and the helpers
below. Values that grant access (a database URI with its password, a signing key) are `SecretStr`, so a log
line, a repr or an error message shows `**********`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr

LOCAL_PROJECT = "local-project"  # the project id with the Pub/Sub emulator, which accepts any


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
    mongo_uri: SecretStr | None  # carries the database password
    mongo_db: str
    collection_predictions: str
    collection_corrections: str
    batch_size: int
    train_test_split: float
    # ACCESS_LOG_SAMPLE: the share of fast, successful requests written to the access log (errors, refusals and
    # slow requests always are; metrics count every request). By default every request, except where the service
    # gives its own default (mlapp).
    access_log_sample: float = 1.0

    @classmethod
    def from_env(
        cls,
        service: str,
        env: Mapping[str, str] | None = None,
        *,
        require_project: bool = True,
        access_log_sample: float = 1.0,
    ) -> Settings:
        """`require_project=False` is for jobs whose bus use is optional: without GCP_PROJECT and
        PUBSUB_EMULATOR_HOST, `gcp_project` is then "" instead of a `ConfigError`. `access_log_sample` is the
        service's default for ACCESS_LOG_SAMPLE."""
        env = os.environ if env is None else env
        data_dir = platform_data_dir(env)
        emulator = env.get("PUBSUB_EMULATOR_HOST") or None
        project = gcp_project(env)
        if not project:
            if not emulator and require_project:
                raise ConfigError(
                    "GCP_PROJECT is not set: set it to your Google Cloud project id, or set "
                    "PUBSUB_EMULATOR_HOST to use the local Pub/Sub emulator"
                )
            project = LOCAL_PROJECT if emulator else ""
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
            mongo_uri=SecretStr(env["MONGO_URI"]) if env.get("MONGO_URI") else None,
            mongo_db=env.get("MONGO_DB", "house_prices"),
            collection_predictions=env.get("COLLECTION_1", "collection_1"),
            collection_corrections=env.get("COLLECTION_2", "collection_2"),
            batch_size=env_int(env, "BATCH_SIZE", 1000, minimum=1),
            train_test_split=env_float(env, "TRAIN_TEST_SPLIT", 0.8, minimum=0, maximum=1, exclusive=True),
            access_log_sample=env_float(env, "ACCESS_LOG_SAMPLE", access_log_sample, minimum=0, maximum=1),
        )

    @property
    def bus_configured(self) -> bool:
        """A Pub/Sub project is known (GCP_PROJECT, or the emulator's default): events can be published."""
        return bool(self.gcp_project)


def gcp_project(env: Mapping[str, str]) -> str:
    """GCP_PROJECT, else GOOGLE_CLOUD_PROJECT (the name Google's libraries use), else ""."""
    return env.get("GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or ""


def publish_events(env: Mapping[str, str], settings: Settings, override: bool | None = None) -> bool:
    """`PUBLISH_EVENTS`, one meaning for every job that publishes (the data job, the trainers): unset, events
    are published when a bus is configured; `false` never publishes; `true` without a bus is a configuration
    error, not a silent no-op. `override` (a command-line flag) wins over the variable."""
    wanted = override if override is not None else env_flag(env, "PUBLISH_EVENTS", None)
    if wanted and not settings.bus_configured:
        raise ConfigError(
            "PUBLISH_EVENTS is on but no event bus is configured: set GCP_PROJECT (Pub/Sub) or "
            "PUBSUB_EMULATOR_HOST (local emulator), or set PUBLISH_EVENTS=false"
        )
    return settings.bus_configured if wanted is None else wanted


def env_path(env: Mapping[str, str], name: str) -> Path | None:
    """An optional folder or file, made absolute; unset or empty gives None."""
    return Path(env[name]).resolve() if env.get(name) else None


def platform_data_dir(env: Mapping[str, str]) -> Path:
    """PLATFORM_DATA_DIR (default `.data`), absolute: where one machine keeps every component's data."""
    return Path(env.get("PLATFORM_DATA_DIR") or ".data").resolve()


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _bounds_error(name: str, value: float, minimum: float | None, maximum: float | None, exclusive: bool) -> str | None:
    low_bad = minimum is not None and (value <= minimum if exclusive else value < minimum)
    high_bad = maximum is not None and (value >= maximum if exclusive else value > maximum)
    if not (low_bad or high_bad):
        return None
    if minimum is not None and maximum is not None:
        return f"{name} must be between {minimum:g} and {maximum:g}{' (exclusive)' if exclusive else ''}, got {value:g}"
    if low_bad:
        return f"{name} must be {'greater than' if exclusive else 'at least'} {minimum:g}, got {value:g}"
    return f"{name} must be {'less than' if exclusive else 'at most'} {maximum:g}, got {value:g}"


_FloatDefault = TypeVar("_FloatDefault", float, None)  # env_float answers a float, or None when unset


def env_int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A whole-number variable; unset or empty gives `default`, anything else invalid fails naming `name`."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    error = _bounds_error(name, value, minimum, maximum, exclusive=False)
    if error:
        raise ConfigError(error)
    return value


def env_float(
    env: Mapping[str, str],
    name: str,
    default: _FloatDefault,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive: bool = False,
) -> float | _FloatDefault:
    """A finite number (unset: `default`, which may be None for "not set"); `exclusive` makes the bounds themselves
    invalid (e.g. a split strictly inside (0, 1))."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    error = _bounds_error(name, value, minimum, maximum, exclusive)
    if error:
        raise ConfigError(error)
    return value


def env_flag(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    """true/false (also 1/0, yes/no, on/off); unset gives `default`, which may be None for "not said"."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, got {env.get(name)!r}")


def require(env: Mapping[str, str], name: str, why: str) -> str:
    """Return a variable that has no safe default, or fail naming it and saying what it is for."""
    value = env.get(name)
    if not value:
        raise ConfigError(f"{name} is not set: {why}")
    return value
