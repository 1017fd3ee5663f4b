"""Session fixtures for the tests that run the project's images: the container engine (podman here, Docker
elsewhere, chosen by images/engine.sh), its Docker-compatible API socket for testcontainers, and the images
built by images/build.sh. Where no engine works the tests skip, printing why."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_platform.engine import IMAGES_DIR, REPO_ROOT, Engine, EngineMissing, detect_engine


@pytest.fixture(scope="session")
def container_engine() -> Engine:
    try:
        return detect_engine()
    except EngineMissing as exc:
        pytest.skip(f"no container engine: {exc}")


@pytest.fixture(scope="session")
def image_tag(container_engine: Engine) -> str:
    """Builds every image (cached layers: seconds when nothing changed) and returns the tag they carry."""
    env = {**os.environ, **container_engine.env}
    started = time.monotonic()
    result = subprocess.run(
        [str(IMAGES_DIR / "build.sh")], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        pytest.fail(f"images/build.sh failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"\nimages built in {time.monotonic() - started:.0f} s:\n{result.stdout}")
    return next(line.split()[1].split(":", 1)[1] for line in result.stdout.splitlines() if line.startswith("built "))


@pytest.fixture(scope="session")
def docker_api(container_engine: Engine) -> Iterator[str]:
    """DOCKER_HOST for testcontainers: podman's Docker-compatible API socket (started here), or Docker's own."""
    if container_engine.name == "docker":
        yield os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return
    folder = Path(tempfile.mkdtemp(prefix="podman-api-"))
    socket = folder / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        env={**os.environ, **container_engine.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not socket.exists():
        service.kill()
        pytest.fail("podman system service did not create its API socket within 30 s")
    previous = {k: os.environ.get(k) for k in ("DOCKER_HOST", "TESTCONTAINERS_RYUK_DISABLED")}
    # no image can be pulled here, so testcontainers' reaper (a pulled image) stays off; fixtures clean up
    os.environ.update({"DOCKER_HOST": f"unix://{socket}", "TESTCONTAINERS_RYUK_DISABLED": "true"})
    try:
        yield os.environ["DOCKER_HOST"]
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        service.terminate()
        service.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
