"""The virtual environment a serving peer runs from (MLServer, BentoML): made with uv under the bench's work
folder, so a peer's own pins (its web framework, its MLflow) never touch the workspace's.

Each environment also gets this workspace's `common` (the model's feature transformer lives there) and the
exact scikit-learn, skops, numpy and pandas versions the workspace logs models with: a model unpickled by
other versions may predict differently, or not load.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from platform_bench.context import BenchContext

log = logging.getLogger("bench")

REPO_ROOT = Path(__file__).resolve().parents[3]


def model_pins() -> list[str]:
    """`name==version` of the libraries the logged model needs, as installed in this workspace."""
    import numpy
    import pandas
    import sklearn
    import skops

    versions = {"scikit-learn": sklearn, "skops": skops, "numpy": numpy, "pandas": pandas}
    return [f"{name}=={module.__version__}" for name, module in versions.items()]


def ensure_venv(ctx: BenchContext, name: str, requirements: Sequence[str], command: str) -> Path:
    """`work_dir/<name>` with `requirements`, the model's pins and `common` (uv's cache makes a rebuild take
    seconds); returns the path of its `command` (e.g. `bin/mlserver`)."""
    venv = ctx.work_dir / name
    path = venv / "bin" / command
    if path.exists():
        return path
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        raise RuntimeError(f"uv is not on PATH: `make install` installs it, and {name} needs it")
    log.info("installing a serving peer into its own environment", extra={"venv": str(venv)})
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    packages = [*requirements, *model_pins(), str(REPO_ROOT / "common")]
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *packages], check=True)
    return path
