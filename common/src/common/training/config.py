"""The trainer's configuration (the `train` command of every family), read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.settings import Settings, env_int, env_path, publish_events

SERVICE = "trainer"


@dataclass(frozen=True)
class TrainerConfig:
    settings: Settings
    models_dir: Path  # MODELS_DIR: the folder of family folders
    publish_events: bool  # PUBLISH_EVENTS: announce promotions (`common.settings.publish_events`)
    # TRAIN_THREADS: OpenMP threads for fitting and scoring (HistGradientBoosting). One is the robust default for
    # this data size: spinning OpenMP workers on a shared, busy node can make a 2-second fit take minutes.
    train_threads: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, default_models_dir: Path) -> TrainerConfig:
        """`default_models_dir` is where the `train` command finds the families when MODELS_DIR is unset."""
        settings = Settings.from_env(SERVICE, env, require_project=False)
        return cls(
            settings=settings,
            models_dir=env_path(env, "MODELS_DIR") or default_models_dir,
            publish_events=publish_events(env, settings),
            train_threads=env_int(env, "TRAIN_THREADS", 1, minimum=1, maximum=256),
        )
