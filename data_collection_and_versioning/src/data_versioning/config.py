"""The job's configuration: the shared `Settings` plus the few variables only the data job reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.settings import ConfigError, Settings, env_flag, env_float, env_int, publish_events

SERVICE = "data-job"
FAILPOINTS = ("after_instream_data", "after_version_data", "after_version_manifest")
MiB = 1024 * 1024


@dataclass(frozen=True)
class JobConfig:
    settings: Settings
    publish_events: bool  # publish `dataset.version.committed` after a commit
    require_corrections: bool  # dbapp unreachable = failure instead of a warning
    corrections_enabled: bool  # DBAPP_URL="" switches the corrections input off
    corrections_page_size: int
    dbapp_timeout_seconds: float
    failpoint: str | None  # test-only crash injection, see `failpoints.py`
    lease_seconds: int = 900  # how long a run's lease lives without renewal, see `lease.py`
    max_object_bytes: int = 512 * MiB  # a larger landing object is quarantined unread
    correction_max_factor: float = 5.0  # corrected vs predicted price, either way
    correction_range_factor: float = 2.0  # widens the train prices' [min, max] for corrections

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
        publishing = publish_events(env, settings, publish)
        failpoint = env.get("DATA_JOB_FAILPOINT") or None
        if failpoint is not None and failpoint not in FAILPOINTS:
            raise ConfigError(f"DATA_JOB_FAILPOINT must be one of {', '.join(FAILPOINTS)}, got {failpoint!r}")
        if _same_or_nested(settings.landing_bucket, settings.datasets_bucket):
            raise ConfigError(
                f"LANDING_BUCKET ({settings.landing_bucket}) and DATASETS_BUCKET ({settings.datasets_bucket}) "
                "must not be the same place or inside each other: the job would read its own output"
            )
        page_size = env_int(env, "CORRECTIONS_PAGE_SIZE", 500, minimum=1)
        if not 1 <= page_size <= 500:
            raise ConfigError(f"CORRECTIONS_PAGE_SIZE must be between 1 and 500, got {page_size}")
        return cls(
            settings=settings,
            publish_events=publishing,
            require_corrections=(
                require_corrections
                if require_corrections is not None
                else bool(env_flag(env, "REQUIRE_CORRECTIONS", False))
            ),
            corrections_enabled=bool(settings.dbapp_url),
            corrections_page_size=page_size,
            dbapp_timeout_seconds=env_float(env, "DBAPP_TIMEOUT_SECONDS", 10.0, minimum=0, exclusive=True),
            failpoint=failpoint,
            lease_seconds=env_int(env, "DATA_JOB_LEASE_SECONDS", 900, minimum=30),
            max_object_bytes=env_int(env, "DATA_JOB_MAX_OBJECT_BYTES", 512 * MiB, minimum=1),
            correction_max_factor=env_float(env, "CORRECTION_MAX_FACTOR", 5.0, minimum=1, exclusive=True),
            correction_range_factor=env_float(env, "CORRECTION_RANGE_FACTOR", 2.0, minimum=1),
        )


def _same_or_nested(a: str, b: str) -> bool:
    a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)
