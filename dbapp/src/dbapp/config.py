"""dbapp's configuration: the platform `Settings` plus the few knobs only dbapp has, read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.api_tokens import ApiTokens
from common.server_settings import read_only_port
from common.settings import ConfigError, Settings, env_float, env_path
from dbapp.documents import Kind

SERVICE = "dbapp"


@dataclass(frozen=True)
class DbappConfig:
    settings: Settings
    mongo_settle_seconds: float
    consumer_state_dir: Path | None = None  # CONSUMER_STATE_DIR: the consumer's heartbeat folder (its probes)
    # API_TOKENS: who may write through POST /store (open when empty)
    api_tokens: ApiTokens = field(default_factory=ApiTokens)
    read_only_port: int | None = None  # READ_ONLY_PORT: gunicorn's second listener, where writes are refused
    # DBAPP_QUALITY_CACHE_SECONDS: how long a process reuses its live-quality aggregate (dbapp.quality)
    quality_cache_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, settings: Settings | None = None) -> DbappConfig:
        env = os.environ if env is None else env
        settings = settings or Settings.from_env(SERVICE, env)
        if settings.collection_predictions == settings.collection_corrections:
            raise ConfigError(
                f"COLLECTION_1 and COLLECTION_2 must differ (both are {settings.collection_predictions!r})"
            )
        return cls(
            settings=settings,
            mongo_settle_seconds=env_float(env, "DBAPP_MONGO_SETTLE_SECONDS", 2.0, minimum=0, maximum=3600),
            consumer_state_dir=env_path(env, "CONSUMER_STATE_DIR"),
            api_tokens=ApiTokens.from_env(env),
            read_only_port=read_only_port(env),
            quality_cache_seconds=env_float(env, "DBAPP_QUALITY_CACHE_SECONDS", 30.0, minimum=0, maximum=3600),
        )

    @property
    def kinds(self) -> dict[str, Kind]:
        """Collection name (the `table` of `/store`, the `<collection>` of `/retrieve`) to what it holds."""
        return {
            self.settings.collection_predictions: Kind.PREDICTION,
            self.settings.collection_corrections: Kind.CORRECTION,
        }

    def collection_for(self, kind: Kind) -> str:
        if kind is Kind.PREDICTION:
            return self.settings.collection_predictions
        return self.settings.collection_corrections
