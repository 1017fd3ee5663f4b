"""webapp's configuration: the platform `Settings` plus the few knobs only webapp has, read once at start-up.

`SECRET_KEY` signs the session cookie (CSRF tokens) and the correction forms. In production set it (from a
Secret) and set `WEBAPP_REQUIRE_SECRET=true`, so a missing key stops the start instead of silently generating
one. On one machine an unset key is generated once and kept under `$PLATFORM_DATA_DIR/webapp/secret_key`, so
every gunicorn worker (and the next start) signs with the same key.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from common.api_tokens import ApiTokens
from common.settings import ConfigError, Settings, env_flag, env_int, env_path

SERVICE = "webapp"
DEFAULT_MLAPP_URL = "http://127.0.0.1:8081"
DEFAULT_MAX_UPLOAD_MB = 20
MIN_SECRET_LENGTH = 16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebappConfig:
    settings: Settings
    mlapp_url: str
    secret_key: SecretStr
    secret_key_source: str  # "env", "file" (generated earlier on this machine) or "generated"
    max_upload_bytes: int
    connect_timeout: float = 1.0
    read_timeout: float = 5.0
    publish_timeout: float = 10.0
    history_page_size: int = 20
    # API_TOKENS: who may call the /api/ writes (open when empty)
    api_tokens: ApiTokens = field(default_factory=ApiTokens)
    form_rate_per_minute: int = 30  # FORM_RATE_LIMIT_PER_MINUTE: form posts per client and worker; 0 turns it off
    max_concurrent_uploads: int = 1  # MAX_CONCURRENT_UPLOADS: uploads one worker validates at once
    trusted_proxy_hops: int = 0  # TRUSTED_PROXY_HOPS: proxies in front that append X-Forwarded-For
    # OUTBOX_PATH: the prediction form's events wait here for the bus (`webapp.outbox`); unset, the form waits
    # for the bus's acknowledgement itself
    outbox_path: Path | None = None

    @property
    def dbapp_url(self) -> str:
        return self.settings.dbapp_url

    @property
    def max_upload_mb(self) -> float:
        return self.max_upload_bytes / (1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, settings: Settings | None = None) -> WebappConfig:
        env = os.environ if env is None else env
        settings = settings or Settings.from_env(SERVICE, env)
        secret, source = _secret_key(env, settings.data_dir)
        return cls(
            settings=settings,
            mlapp_url=(env.get("MLAPP_URL") or DEFAULT_MLAPP_URL).rstrip("/"),
            secret_key=SecretStr(secret),
            secret_key_source=source,
            max_upload_bytes=env_int(env, "MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, minimum=1) * 1024 * 1024,
            api_tokens=ApiTokens.from_env(env),
            form_rate_per_minute=env_int(env, "FORM_RATE_LIMIT_PER_MINUTE", 30, minimum=0),
            max_concurrent_uploads=env_int(env, "MAX_CONCURRENT_UPLOADS", 1, minimum=1, maximum=64),
            trusted_proxy_hops=env_int(env, "TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=5),
            outbox_path=env_path(env, "OUTBOX_PATH"),
        )


def _secret_key(env: Mapping[str, str], data_dir: Path) -> tuple[str, str]:
    given = env.get("SECRET_KEY") or ""
    if given:
        if len(given) < MIN_SECRET_LENGTH:
            raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long")
        return given, "env"
    if env_flag(env, "WEBAPP_REQUIRE_SECRET", False):
        raise ConfigError(
            "SECRET_KEY is not set: it signs sessions, CSRF tokens and correction forms, and "
            "WEBAPP_REQUIRE_SECRET=true forbids generating one (set it from a Secret)"
        )
    return _local_secret(data_dir / SERVICE / "secret_key")


def _local_secret(path: Path) -> tuple[str, str]:
    """Read the key generated earlier on this machine, or create it atomically (several workers may race)."""
    try:
        existing = path.read_text().strip()
        if len(existing) >= MIN_SECRET_LENGTH:
            log.warning("SECRET_KEY is not set; using the key generated earlier in %s (local use only)", path)
            return existing, "file"
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot read %s (%s)", path, exc)
    key = secrets.token_urlsafe(48)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        try:
            os.link(tmp, path)  # fails if another worker won the race: use its key
        except FileExistsError:
            key = path.read_text().strip()
        finally:
            tmp.unlink(missing_ok=True)
        log.warning("SECRET_KEY is not set; generated one for local use and kept it in %s", path)
        return key, "file"
    except OSError as exc:
        log.warning(
            "SECRET_KEY is not set and %s is not writable (%s); using a random key for this process only: "
            "forms posted to another worker or after a restart will be refused",
            path,
            exc,
        )
        return key, "generated"
