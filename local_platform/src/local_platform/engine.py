"""The container engine and the project's images, as images/engine.sh and images/images.txt define them, for the
launcher (`platform up --containers`) and the tests that run images."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
IMAGES_DIR = REPO_ROOT / "images"


class EngineMissing(RuntimeError):
    """No container engine works here; the message says why."""


@dataclass(frozen=True)
class Engine:
    name: str  # "podman" or "docker"
    env: dict[str, str]  # what the engine's CLI needs on top of os.environ (CONTAINERS_CONF for podman)

    def command(self, *args: str) -> list[str]:
        return [self.name, *args]

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), env={**os.environ, **self.env}, capture_output=True, text=True,
            timeout=timeout, check=check,
        )  # fmt: skip


def detect_engine() -> Engine:
    """docker when a daemon answers, else podman with the project's containers.conf (images/engine.sh decides)."""
    script = (
        f'source "{IMAGES_DIR / "engine.sh"}"; '
        'printf "%s\\n%s\\n%s" "$ENGINE" "${CONTAINERS_CONF:-}" "$ENGINE_MISSING"'
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60).stdout.split("\n")
    name, conf, missing = [*out, "", "", ""][:3]
    if not name:
        raise EngineMissing(missing or "no container engine found")
    return Engine(name, {"CONTAINERS_CONF": conf} if conf else {})


def image_names() -> dict[str, str]:
    """Build folder -> image name, from images/images.txt (the list images/build.sh builds)."""
    pairs = {}
    for line in (IMAGES_DIR / "images.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            folder, name = line.split()
            pairs[folder] = name
    return pairs


def image(name: str, tag: str = "latest") -> str:
    return f"house-price/{name}:{tag}"
