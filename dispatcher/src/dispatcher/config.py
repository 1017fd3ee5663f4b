"""The dispatcher's configuration: the shared `Settings` plus how it starts trainers, read once at start."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from common.kubernetes_api import KubernetesTarget
from common.settings import ConfigError, Settings, env_int, env_path

SERVICE = "dispatcher"
FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class Mode(StrEnum):
    KUBERNETES = "kubernetes"  # a Job from each family's CronJob, through the Kubernetes API
    LOCAL = "local"  # `train --family <name>` as a child process of this machine, one at a time


@dataclass(frozen=True)
class DispatcherConfig:
    settings: Settings
    mode: Mode
    families: tuple[str, ...]
    host: str
    port: int  # /healthz, /readyz, /metrics
    kubernetes: KubernetesTarget | None  # set in kubernetes mode
    state_dir: Path  # local mode: one claim file per (family, dataset version)
    trainer_command: tuple[str, ...]  # local mode: the family name is appended after `--family`

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherConfig:
        settings = Settings.from_env(SERVICE, env)
        try:
            mode = Mode(env.get("DISPATCH_MODE", "local"))
        except ValueError:
            raise ConfigError(f"DISPATCH_MODE must be kubernetes or local, got {env.get('DISPATCH_MODE')!r}") from None
        families = _families(env, mode)
        return cls(
            settings=settings,
            mode=mode,
            families=families,
            host=env.get("DISPATCHER_HOST", "127.0.0.1"),
            port=env_int(env, "DISPATCHER_PORT", 8084, minimum=1, maximum=65535),
            kubernetes=(  # the CronJobs and Jobs are in POD_NAMESPACE, by default ml
                KubernetesTarget.from_env(env, default_namespace="ml", needed_by="DISPATCH_MODE=kubernetes")
                if mode is Mode.KUBERNETES
                else None
            ),
            state_dir=env_path(env, "DISPATCH_STATE_DIR") or settings.data_dir / "dispatcher",
            trainer_command=_trainer_command(env),
        )


def _families(env: Mapping[str, str], mode: Mode) -> tuple[str, ...]:
    """TRAINING_FAMILIES (comma-separated); locally, unset means every family folder under MODELS_DIR."""
    raw = env.get("TRAINING_FAMILIES", "")
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names and mode is Mode.LOCAL:
        models_dir = env_path(env, "MODELS_DIR") or Path("models").resolve()
        names = tuple(sorted(path.parent.name for path in models_dir.glob("*/family.py")))
    if not names:
        raise ConfigError(
            "TRAINING_FAMILIES is empty: list the model families to train, e.g. linear_regression,gradient_boosting"
            + ("" if mode is Mode.KUBERNETES else " (or set MODELS_DIR to the folder holding them)")
        )
    bad = [name for name in names if not FAMILY_NAME.match(name)]
    if bad:
        raise ConfigError(f"TRAINING_FAMILIES holds names that are not family folder names: {', '.join(bad)}")
    return names


def _trainer_command(env: Mapping[str, str]) -> tuple[str, ...]:
    """DISPATCH_TRAINER_COMMAND (split like a shell would), else this environment's `train` (the venv's bin
    folder, then PATH). `--family <name>` is appended."""
    raw = env.get("DISPATCH_TRAINER_COMMAND", "")
    if raw.strip():
        return tuple(shlex.split(raw))
    beside = Path(sys.executable).with_name("train")
    return (str(beside) if beside.exists() else (shutil.which("train") or "train"),)
