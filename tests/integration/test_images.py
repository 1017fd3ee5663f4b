"""Every image the project deploys, built by images/build.sh and started the way the Kubernetes manifests start
it: as its non-root user, with a read-only root filesystem and only /tmp writable. Services must answer their liveness
probe, jobs `--help`. Driven through testcontainers over the engine's Docker-compatible API (podman here, Docker
elsewhere), so the same tests run on a Docker machine."""

from __future__ import annotations

import time

import pytest
import requests
from testcontainers.core.container import DockerContainer

from local_platform.engine import Engine, image, image_names

# the UID every Dockerfile runs as (the manifests' securityContext.runAsUser)
APP_UID = "10001"
# folder -> port and liveness path of each HTTP service (the MLflow tracking server has its own /health)
SERVICES = {
    "webapp": (8080, "/healthz"),
    "mlapp": (8081, "/healthz"),
    "dbapp": (8082, "/healthz"),
    "mlflow": (5000, "/health"),
}
JOBS = {"data_collection_and_versioning": "data-job", "models": "train"}
# what a service needs to start with nothing else running: a data folder on the writable /tmp, the local bus
SERVICE_ENV = {
    "PLATFORM_DATA_DIR": "/tmp/data",
    "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085",
    "GCP_PROJECT": "local-project",
    "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
}


def _like_kubernetes(container: DockerContainer) -> DockerContainer:
    """As the manifests run it: the root filesystem read-only, an emptyDir on /tmp."""
    return container.with_kwargs(read_only=True).with_tmpfs_mount("/tmp", "rw,size=256m,mode=1777")


def _image(folder: str, tag: str) -> str:
    return image(image_names()[folder], tag)


@pytest.mark.parametrize("folder", sorted(image_names()))
def test_image_runs_as_the_unprivileged_user(folder: str, image_tag: str, container_engine: Engine) -> None:
    user = container_engine.run("image", "inspect", "--format", "{{.Config.User}}", _image(folder, image_tag))
    assert user.stdout.strip() == APP_UID, f"{folder}/Dockerfile must end with USER {APP_UID}"


def _wait_healthy(url: str, container: DockerContainer, timeout: float = 120) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = requests.get(url, timeout=2)
            if answer.status_code == 200:
                return answer
        except requests.RequestException:
            pass
        status = container.get_wrapped_container()
        status.reload()
        if status.status == "exited":
            logs = b"".join(container.get_logs()).decode(errors="replace")
            pytest.fail(f"the container exited before answering {url}:\n{logs[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"no 200 from {url} within {timeout:.0f} s")


@pytest.mark.parametrize("folder", sorted(SERVICES))
def test_service_answers_healthz_read_only_as_non_root(folder: str, image_tag: str, docker_api: str) -> None:
    port, path = SERVICES[folder]
    container = _like_kubernetes(DockerContainer(_image(folder, image_tag)))
    for key, value in SERVICE_ENV.items():
        container.with_env(key, value)
    container.ports[port] = ("127.0.0.1",)  # published on loopback only, on a free host port
    with container:
        host_port = container.get_exposed_port(port)
        answer = _wait_healthy(f"http://127.0.0.1:{host_port}{path}", container)
        assert answer.status_code == 200
        code, out = container.exec(["id", "-u"])
        assert (code, out.decode().strip()) == (0, APP_UID)
        code, _ = container.exec(["touch", "/app/written"])
        assert code != 0, "the root filesystem must be read-only"


@pytest.mark.parametrize("folder", sorted(JOBS))
def test_job_prints_its_help(folder: str, image_tag: str, docker_api: str) -> None:
    container = _like_kubernetes(DockerContainer(_image(folder, image_tag)).with_command("--help"))
    with container:
        wrapped = container.get_wrapped_container()
        result = wrapped.wait(timeout=120)
        logs = b"".join(container.get_logs()).decode(errors="replace")
    assert result["StatusCode"] == 0, logs
    assert "usage:" in logs and JOBS[folder] in logs, logs
