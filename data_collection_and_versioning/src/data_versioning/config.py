"""The job's configuration: the shared `Settings` plus the few variables only the data job reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from common.settings import ConfigError, Settings

SERVICE = "data-job"
FAILPOINTS = ("after_instream_data", "after_version_data", "after_version_manifest")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class JobConfig:
    settings: Settings
    publish_events: bool  # publish `dataset.version.committed` after a commit
    require_corrections: bool  # dbapp unreachable = failure instead of a warning
    corrections_enabled: bool  # DBAPP_URL="" switches the corrections input off
    corrections_page_size: int
    dbapp_timeout_seconds: float
    failpoint: str | None  # test-only crash injection, see `failpoints.py`

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        publish: bool | None = None,
        require_corrections: bool | None = None,
    ) -> JobConfig:
        """`publish` / `require_corrections` come from command-line flags and win over the environment."""
        settings = Settings.from_env(SERVICE, env, require_project=False)
        bus_configured = bool(env.get("PUBSUB_EMULATOR_HOST") or settings.gcp_project)
        wanted = publish if publish is not None else _flag(env, "PUBLISH_EVENTS", None)
        if wanted and not bus_configured:
            raise ConfigError(
                "PUBLISH_EVENTS is on but no event bus is configured: set GCP_PROJECT (Pub/Sub) or "
                "PUBSUB_EMULATOR_HOST (local emulator), or set PUBLISH_EVENTS=false"
            )
        failpoint = env.get("DATA_JOB_FAILPOINT") or None
        if failpoint is not None and failpoint not in FAILPOINTS:
            raise ConfigError(f"DATA_JOB_FAILPOINT must be one of {', '.join(FAILPOINTS)}, got {failpoint!r}")
        if _same_or_nested(settings.landing_bucket, settings.datasets_bucket):
            raise ConfigError(
                f"LANDING_BUCKET ({settings.landing_bucket}) and DATASETS_BUCKET ({settings.datasets_bucket}) "
                "must not be the same place or inside each other: the job would read its own output"
            )
        page_size = _number(env, "CORRECTIONS_PAGE_SIZE", 500, int)
        if not 1 <= page_size <= 500:
            raise ConfigError(f"CORRECTIONS_PAGE_SIZE must be between 1 and 500, got {page_size}")
        return cls(
            settings=settings,
            publish_events=bus_configured if wanted is None else wanted,
            require_corrections=(
                require_corrections
                if require_corrections is not None
                else bool(_flag(env, "REQUIRE_CORRECTIONS", False))
            ),
            corrections_enabled=bool(settings.dbapp_url),
            corrections_page_size=page_size,
            dbapp_timeout_seconds=_number(env, "DBAPP_TIMEOUT_SECONDS", 10.0, float),
            failpoint=failpoint,
        )


def _flag(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {env.get(name)!r}")


def _number(env: Mapping[str, str], name: str, default: Number, kind: Callable[[str], Number]) -> Number:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _same_or_nested(a: str, b: str) -> bool:
    a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)
