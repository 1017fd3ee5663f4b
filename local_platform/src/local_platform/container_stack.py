"""The platform from its images (`make up-containers`): every component is a container on one network, where
it reaches the others by service name as in Kubernetes, and publishes its port on the same 127.0.0.1 port as
`make up`. Each container runs in the foreground of an engine `run --rm` process (a `Child`), so output,
readiness and shutdown work as for the process stack; Ctrl-C stops and removes every container.

The data folder is mounted at the same absolute path inside every container, so `make pipeline` on the host
and the containers see the same buckets, SQLite files and MLflow artifacts, and data survives restarts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.settings import LOCAL_PROJECT
from local_platform import components
from local_platform.engine import Engine, image
from local_platform.processes import LOG_VARIABLES, Child, stop_in_stages
from local_platform.stack import CONSUMER_STOP_GRACE, Ports, Stack

APP_UID = 10001  # the user every image runs as
PUBSUB_IMAGE = "pubsub-emulator"


@dataclass
class ContainerStack:
    data_dir: Path
    engine: Engine
    ports: Ports = field(default_factory=Ports)
    tag: str = "latest"
    log_dir: Path | None = None
    name: str = "house-price"  # names the network and prefixes the containers (CONTAINER_PLATFORM_NAME)
    gcp_project: str = LOCAL_PROJECT
    children: list[Child] = field(default_factory=list)

    @property
    def label(self) -> str:
        """On every container and the network: what `remove_leftovers` finds, even after a killed launcher."""
        return f"house-price.platform={self.name}"

    def env(self) -> dict[str, str]:
        """What host-side tools (`make pipeline`, the tests) see: the published ports, as for `make up`."""
        return Stack(self.data_dir, self.ports, gcp_project=self.gcp_project).env()

    def container_env(self) -> dict[str, str]:
        """What every container sees: the other components by service name, on their container ports, and the
        launcher's log style (a container's stdout is a pipe to the launcher, never its terminal)."""
        return {
            "PLATFORM_DATA_DIR": str(self.data_dir),
            "PUBSUB_EMULATOR_HOST": "pubsub:8085",
            "GCP_PROJECT": self.gcp_project,
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
            "MLFLOW_EXTRA_ALLOWED_HOSTS": "mlflow,mlflow:5000",
            "DBAPP_URL": "http://dbapp:8082",
            "MLAPP_URL": "http://mlapp:8081",
            "OUTBOX_PATH": str(self.data_dir / "webapp" / "outbox.sqlite3"),
            **{name: os.environ[name] for name in LOG_VARIABLES if os.environ.get(name)},
        }

    def check_ports_free(self) -> None:
        Stack(self.data_dir, self.ports).check_ports_free()

    def prepare(self) -> None:
        """Remove what an interrupted run left, create the network, and let the images' user write the data."""
        self.remove_leftovers()
        self.engine.run("network", "create", "--label", self.label, self.name, check=False)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _give_to_app_user(self.data_dir, self.engine)

    def _run_command(self, name: str, image_name: str, args: list[str], port: tuple[int, int] | None) -> list[str]:
        cmd = self.engine.command(
            "run", "--rm", "--name", f"{self.name}-{name}", "--label", self.label,
            "--network", self.name, "--network-alias", name,
            "--read-only", "--tmpfs", "/tmp:rw,mode=1777",
            "--volume", f"{self.data_dir}:{self.data_dir}",
        )  # fmt: skip
        if port:
            cmd += ["--publish", f"127.0.0.1:{port[0]}:{port[1]}"]
        for key, value in self.container_env().items():
            cmd += ["--env", f"{key}={value}"]
        return [*cmd, image(image_name, self.tag), *args]

    def _start(
        self,
        name: str,
        image_name: str,
        port: tuple[int, int] | None,
        ready: Callable[[], bool] | None,
        timeout: float,
        *args: str,
        stop_grace: float = 15.0,
    ) -> None:
        cmd = self._run_command(name, image_name, list(args), port)
        log = self.log_dir / f"{name}.log" if self.log_dir else None
        child = Child(name, cmd, env=self.engine.env, log_path=log, stop_grace=stop_grace)
        self.children.append(child.start())
        if ready is not None:
            child.wait_ready(ready, timeout=timeout)

    def start_bus(self) -> None:
        port = self.ports.pubsub
        self._start("pubsub", PUBSUB_IMAGE, (port, 8085), components.pubsub_ready(port), 120)

    def start_mlflow(self) -> None:
        port = self.ports.mlflow
        self._start("mlflow", "mlflow-server", (port, 5000), components.mlflow_ready(port), 180)

    def start_dbapp(self) -> None:
        port = self.ports.dbapp
        self._start("dbapp", "dbapp", (port, 8082), components.service_ready(port), 90)
        self._start("consumer", "dbapp", None, None, 0, "dbapp-consumer", stop_grace=CONSUMER_STOP_GRACE)

    def start_mlapp(self) -> None:
        port = self.ports.mlapp
        self._start("mlapp", "mlapp", (port, 8081), components.service_ready(port), 90)

    def start_webapp(self) -> None:
        port = self.ports.webapp
        self._start("webapp", "webapp", (port, 8080), components.service_ready(port), 90)

    def start_dispatcher(self) -> bool:
        """No dispatcher runs on the container platform (it would have to start trainer containers through the
        engine): its pipeline runs the trainers itself. False: none runs."""
        return False

    def run_pipeline(self, train: bool = True) -> int:
        """The data job, then (`train`) every trainer, each from its image on the platform's network. Files the
        host wrote into the data folder (the sample data, an operator's drop) are handed to the images' user."""
        _give_to_app_user(self.data_dir, self.engine)
        jobs = [("data-job", "data-job", []), ("train", "trainer", ["--all"])]
        for name, image_name, args in jobs if train else jobs[:1]:
            log = self.log_dir / f"{name}.log" if self.log_dir else None
            cmd = self._run_command(name, image_name, args, None)
            code = Child(name, cmd, env=self.engine.env, log_path=log, own_session=False).start().wait()
            if code != 0:
                return code
        return 0

    def running_containers(self) -> list[str]:
        listed = self.engine.run("ps", "--quiet", "--filter", f"label={self.label}", check=False)
        return listed.stdout.split()

    def stop(self) -> None:
        stop_in_stages(self.children)
        self.children.clear()
        self.remove_leftovers()

    def remove_leftovers(self) -> None:
        """Every container and the network of this platform, even those a killed launcher left behind."""
        for _attempt in range(3):  # podman can report a container it is still stopping as not removable
            listed = self.engine.run("ps", "--all", "--quiet", "--filter", f"label={self.label}", check=False)
            ids = listed.stdout.split()
            if not ids:
                break
            self.engine.run("rm", "--force", "--time", "5", *ids, check=False, timeout=120)
        self.engine.run("network", "rm", self.name, check=False)


def _give_to_app_user(folder: Path, engine: Engine) -> None:
    """The images run as UID 10001; the data folder and all in it must be theirs to write (rootful engines map
    that UID to the host's 10001; rootless podman maps it into the user's range, hence `podman unshare`)."""
    if os.geteuid() == 0:
        for root, _dirs, files in os.walk(folder):  # every folder is a `root` once
            for entry in (root, *(os.path.join(root, name) for name in files)):
                os.chown(entry, APP_UID, APP_UID, follow_symlinks=False)
    elif engine.name == "podman":
        subprocess.run(
            ["podman", "unshare", "chown", "-R", f"{APP_UID}:{APP_UID}", str(folder)],
            env={**os.environ, **engine.env}, check=True,
        )  # fmt: skip
