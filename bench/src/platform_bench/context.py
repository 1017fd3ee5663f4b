"""What every section of the benchmark shares: the configuration, its own platform (the Pub/Sub emulator and an
MLflow server on free ports, data under the work folder), and what earlier sections hand to later ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_platform.stack import Stack
from platform_bench.config import BenchConfig

log = logging.getLogger("bench")


@dataclass
class BenchContext:
    config: BenchConfig
    stack: Stack  # the Pub/Sub emulator and MLflow run before the first section; other components are the sections' own
    # Handed on between sections:
    #   "versioned_datasets": str  - DATASETS_BUCKET URI holding the largest data-job run (training reads it)
    #   "champion": dict           - {"name", "version", "family"} of the model the serving sections use
    #   "mlapp": servers.Server    - the one mlapp every serving section uses (stopped with the stack)
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def work_dir(self) -> Path:
        return self.config.work_dir

    @property
    def logs_dir(self) -> Path:
        path = self.config.work_dir / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self) -> dict[str, str]:
        """The bench platform's environment, as `make up` gives it (data folder, emulator, MLflow, service URLs)."""
        return self.stack.env()
