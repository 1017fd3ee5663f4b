"""mlapp's configuration: the platform `Settings` plus the few knobs only mlapp has, read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from common.settings import Settings, env_float, env_int

SERVICE = "mlapp"
DEFAULT_POLL_SECONDS = 30.0
DEFAULT_MAX_BATCH = 10_000
DEFAULT_DRIFT_WINDOW = 1_000
# One fast, successful prediction in 20 gets an access line (every refusal, error and slow request gets one, and
# the metrics count every request): a line cost more CPU than the prediction it described (README, Performance).
DEFAULT_ACCESS_LOG_SAMPLE = 0.05

# MLflow's HTTP client retries a refused connection 7 times with exponential back-off (minutes in all). mlapp
# checks the registry again on every poll anyway, so one check gives up sooner and the next poll retries.
# Applied with `setdefault`: an operator's own values win.
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


@dataclass(frozen=True)
class MlappConfig:
    settings: Settings
    poll_seconds: float  # MODEL_POLL_SECONDS: how often the champion alias is re-read
    max_batch: int  # MAX_BATCH_RECORDS: the most records one POST /predict/batch may carry
    drift_window: int  # DRIFT_WINDOW_RECORDS: houses per worker the input-drift PSI is computed over

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, settings: Settings | None = None) -> MlappConfig:
        env = os.environ if env is None else env
        # The bus is optional for mlapp (alias polling alone still finds new champions), so no project is fine.
        settings = settings or Settings.from_env(
            SERVICE, env, require_project=False, access_log_sample=DEFAULT_ACCESS_LOG_SAMPLE
        )
        return cls(
            settings=settings,
            poll_seconds=env_float(env, "MODEL_POLL_SECONDS", DEFAULT_POLL_SECONDS, minimum=0, exclusive=True),
            max_batch=env_int(env, "MAX_BATCH_RECORDS", DEFAULT_MAX_BATCH, minimum=1),
            drift_window=env_int(env, "DRIFT_WINDOW_RECORDS", DEFAULT_DRIFT_WINDOW, minimum=10),
        )

    @property
    def bus_enabled(self) -> bool:
        """Promotion events are received only with a Pub/Sub project (GCP_PROJECT, or the emulator's default)."""
        return bool(self.settings.gcp_project)


def apply_mlflow_http_defaults(env: MutableMapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    for name, value in MLFLOW_HTTP_DEFAULTS.items():
        env.setdefault(name, value)
