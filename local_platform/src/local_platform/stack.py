"""The whole platform on one machine: which components run, on which ports, with which environment."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.settings import LOCAL_PROJECT
from local_platform import components
from local_platform.pipeline import run_pipeline
from local_platform.processes import Child, port_open, stop_in_stages

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLE_DATASET = REPO_ROOT / "sample_dataset" / "data.csv"
SAMPLE_OBJECT = "sample_dataset/data.csv"
CONSUMER_STOP_GRACE = 30.0  # dbapp's consumer drains its subscriptions for up to 20 s after SIGTERM
MONITORING_PORTS = ("prometheus", "alertmanager")


@dataclass(frozen=True)
class Ports:
    pubsub: int = 8085
    mlflow: int = 5000
    dbapp: int = 8082
    mlapp: int = 8081
    webapp: int = 8080
    dispatcher: int = 8084
    # optional: started only when installed, and skipped (not refused) when taken (local_platform.monitoring)
    prometheus: int = 9090
    alertmanager: int = 9093


@dataclass
class Stack:
    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    log_dir: Path | None = None  # None: prefixed output on stdout (make up); a folder: one log file per child
    gcp_project: str = LOCAL_PROJECT
    children: list[Child] = field(default_factory=list)
    region: str = ""  # `make up-regions`: the region's name prefixes its components' names and keeps its outbox apart

    def env(self) -> dict[str, str]:
        """What every component and job of this stack sees (on top of the caller's environment)."""
        return {
            "PLATFORM_DATA_DIR": str(self.data_dir),
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.ports.pubsub}",
            "GCP_PROJECT": self.gcp_project,
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{self.ports.mlflow}",
            "DBAPP_URL": f"http://127.0.0.1:{self.ports.dbapp}",
            "MLAPP_URL": f"http://127.0.0.1:{self.ports.mlapp}",
            "MODELS_DIR": str(REPO_ROOT / "models"),
            "OUTBOX_PATH": str(self.data_dir / "webapp" / self.region / "outbox.sqlite3"),
        }

    def prepare(self) -> None:
        """Nothing to set up before processes start (the container stack creates its network here)."""

    def run_pipeline(self, train: bool = True) -> int:
        """The data job, then (`train`) every trainer, as processes of this machine."""
        return run_pipeline(self.env(), self.log_dir, train)

    def _log(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir else None

    def _multiproc_dir(self, name: str) -> str:
        """A fresh prometheus_client multiprocess folder per start: stale files would skew the counters."""
        root = Path(tempfile.gettempdir()) / "house-price-metrics" / f"{name}-{getattr(self.ports, name)}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return str(root)

    def check_ports_free(self) -> None:
        required = {name: port for name, port in vars(self.ports).items() if name not in MONITORING_PORTS}
        taken = [f"{name} ({port})" for name, port in required.items() if port_open("127.0.0.1", port)]
        if taken:
            raise SystemExit(
                f"port(s) already in use: {', '.join(taken)}. Is the platform already running? "
                "Stop it, or choose other ports with PUBSUB_PORT, MLFLOW_PORT, DBAPP_PORT, MLAPP_PORT, WEBAPP_PORT, "
                "DISPATCHER_PORT."
            )

    def _named(self, child: Child) -> Child:
        child.name = f"{self.region}/{child.name}" if self.region else child.name
        return child

    def _run(self, child: Child, ready: Callable[[], bool], timeout: float) -> Child:
        self.children.append(self._named(child))
        child.start()
        child.wait_ready(ready, timeout=timeout)
        return child

    def start_bus(self) -> None:
        child = components.pubsub_emulator(self.ports.pubsub, self.data_dir / "pubsub", self._log("pubsub"))
        self._run(child, components.pubsub_ready(self.ports.pubsub), timeout=90)

    def start_mlflow(self) -> None:
        child = components.mlflow_server(self.ports.mlflow, self.env(), self._log("mlflow"))
        self._run(child, components.mlflow_ready(self.ports.mlflow), timeout=180)

    def start_dbapp(self) -> None:
        env = {**self.env(), "PROMETHEUS_MULTIPROC_DIR": self._multiproc_dir("dbapp")}
        web = components.gunicorn_service("dbapp", "dbapp.app:create_app()", self.ports.dbapp, env, self._log("dbapp"))
        self._run(web, components.service_ready(self.ports.dbapp), timeout=60)
        consumer = Child(
            "consumer",
            [components.python_tool("dbapp-consumer")],
            env=env,
            log_path=self._log("consumer"),
            stop_grace=CONSUMER_STOP_GRACE,
        )
        self.children.append(self._named(consumer).start())

    def start_mlapp(self) -> None:
        """Alive at once; ready (`/readyz`) when the champion is loaded, which the caller waits for separately."""
        env = {**self.env(), "PROMETHEUS_MULTIPROC_DIR": self._multiproc_dir("mlapp")}
        child = components.gunicorn_service(
            "mlapp", "mlapp.app:create_app()", self.ports.mlapp, env, self._log("mlapp"), config="mlapp.gunicorn_conf"
        )
        self._run(child, components.service_ready(self.ports.mlapp), timeout=60)

    def start_webapp(self) -> None:
        env = {**self.env(), "PROMETHEUS_MULTIPROC_DIR": self._multiproc_dir("webapp")}
        child = components.gunicorn_service(
            "webapp", "webapp.app:create_app()", self.ports.webapp, env, self._log("webapp")
        )
        self._run(child, components.service_ready(self.ports.webapp), timeout=60)

    def start_dispatcher(self) -> bool:
        """The retraining dispatcher (local mode): from now on each committed dataset version trains every family.
        At start it trains every family on the latest version that family was not trained on. True: it runs."""
        env = {**self.env(), "DISPATCH_MODE": "local", "DISPATCHER_PORT": str(self.ports.dispatcher)}
        child = Child("dispatcher", [components.python_tool("dispatcher")], env=env, log_path=self._log("dispatcher"))
        self._run(child, components.service_ready(self.ports.dispatcher), timeout=60)
        return True

    def stop(self) -> None:
        """Stop in stages (`processes.stop_in_stages`): webapp (no new events accepted) before dbapp's consumer,
        which drains its subscriptions (up to `common.pull_loop.DRAIN_SECONDS`) before the in-memory emulator stops."""
        stop_in_stages(self.children)
        self.children.clear()
