"""`platform up-regions` (`make up-regions`): two regional platforms on this machine behind one global front.

Shared, as real regions share them: the Pub/Sub emulator (Pub/Sub is global), MLflow (one registry), the
dispatcher, and one dbapp store (`$PLATFORM_DATA_DIR/dbapp.sqlite3`, as production regions share one
multi-region database). Per region: webapp, mlapp, dbapp and its consumer; `region-a` on the ports `make up`
uses, `region-b` on 9080, 9081, 9082. In front: HAProxy on 127.0.0.1:8090 (`local_platform.haproxy`); beside it
the failover controller, which probes both regions and sets HAProxy's weights through its runtime API, with its
`/metrics` on 127.0.0.1:8095. Foreground like `make up`; Ctrl-C stops everything; a component that exits is
restarted as in `make up`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from common.settings import Settings
from common.shutdown import stop_on_signals
from local_platform import components
from local_platform.config import RegionsConfig
from local_platform.haproxy import STANDBY_WEIGHT, haproxy, haproxy_config
from local_platform.pipeline import create_topics_and_subscriptions, latest_dataset_version, seed_sample_data
from local_platform.processes import Child, NotReady, port_open, run_together
from local_platform.readiness import recreate_bus, wait_for_dispatcher, wait_for_model
from local_platform.stack import SAMPLE_DATASET, SAMPLE_OBJECT, Stack
from local_platform.supervisor import Supervisor

log = logging.getLogger("platform")
PRIMARY, SECONDARY = "region-a", "region-b"


class Regions:
    """The shared components, the two regional stacks, and the front with its controller."""

    def __init__(self, config: RegionsConfig, log_dir: Path | None = None) -> None:
        launcher = config.launcher
        self.config = config
        self.shared = Stack(launcher.data_dir, launcher.ports, log_dir, launcher.gcp_project)
        self.regions = {
            PRIMARY: Stack(launcher.data_dir, launcher.ports, log_dir, launcher.gcp_project, region=PRIMARY),
            SECONDARY: Stack(launcher.data_dir, config.region_b, log_dir, launcher.gcp_project, region=SECONDARY),
        }
        self.front: list[Child] = []
        self.log_dir = log_dir

    @property
    def children(self) -> list[Child]:
        regional = [child for stack in self.regions.values() for child in stack.children]
        return [*self.shared.children, *regional, *self.front]

    def check_ports_free(self) -> None:
        ports = {
            f"{name} {kind}": getattr(stack.ports, kind)
            for name, stack in self.regions.items()
            for kind in ("webapp", "mlapp", "dbapp")
        }
        ports |= {"pubsub": self.shared.ports.pubsub, "mlflow": self.shared.ports.mlflow}
        ports |= {"dispatcher": self.shared.ports.dispatcher, "front": self.config.front_port}
        ports |= {"controller": self.config.controller_port, "haproxy runtime": self.config.runtime_port}
        taken = [f"{name} ({port})" for name, port in ports.items() if port_open("127.0.0.1", port)]
        if taken:
            raise SystemExit(f"port(s) already in use: {', '.join(taken)}. Is a platform already running?")

    def start(self, settings: Settings, stopping: threading.Event) -> None:
        self.shared.start_bus()
        create_topics_and_subscriptions(settings)
        self.shared.start_mlflow()
        for stack in self.regions.values():
            stack.start_dbapp()
        for stack in self.regions.values():
            stack.start_mlapp()
            stack.start_webapp()
        self.shared.start_dispatcher()
        seed_sample_data(settings, SAMPLE_DATASET, SAMPLE_OBJECT)
        before = latest_dataset_version(settings)
        if self.shared.run_pipeline(train=False) != 0:
            log.error("the first data job failed (see above); the services keep running")
        after = latest_dataset_version(settings)
        wait_for_dispatcher(self.shared.ports.dispatcher, after if after > before else 0, stopping)
        for stack in self.regions.values():
            wait_for_model(stack, settings)
        self._start_front()

    def _start_front(self) -> None:
        folder = self.config.launcher.data_dir / "regions"
        folder.mkdir(parents=True, exist_ok=True)
        webapps = {name: stack.ports.webapp for name, stack in self.regions.items()}
        config_path = folder / "haproxy.cfg"
        config_path.write_text(haproxy_config(self.config.front_port, self.config.runtime_port, webapps, PRIMARY))
        front = haproxy(config_path, self._log("front"))
        self.front.append(front.start())
        front.wait_ready(lambda: port_open("127.0.0.1", self.config.front_port), timeout=30)
        controller = Child(
            "failover",
            [components.python_tool("failover-controller")],
            env=self.controller_env(),
            log_path=self._log("failover"),
        )
        self.front.append(controller.start())
        controller.wait_ready(components.service_ready(self.config.controller_port), timeout=60)

    def controller_env(self) -> dict[str, str]:
        """Both regions, each probed at its webapp and its mlapp; weights through HAProxy's runtime API."""
        regions = ",".join(
            f"{name}=http://127.0.0.1:{stack.ports.webapp}|http://127.0.0.1:{stack.ports.mlapp}"
            for name, stack in self.regions.items()
        )
        return {
            "FAILOVER_REGIONS": regions,
            "FAILOVER_PRIMARY": PRIMARY,
            "FAILOVER_DRIVER": "haproxy",
            "HAPROXY_RUNTIME_API": f"127.0.0.1:{self.config.runtime_port}",
            "HAPROXY_BACKEND": "web",
            "FAILOVER_HOST": "127.0.0.1",
            "FAILOVER_PORT": str(self.config.controller_port),
            "FAILOVER_INTERVAL_SECONDS": f"{self.config.probe_interval:g}",
            "FAILOVER_STANDBY_WEIGHT": str(STANDBY_WEIGHT),
        }

    def _log(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir else None

    def stop(self) -> None:
        """The front first (no new traffic), then the regions together, then what they share."""
        for child in reversed(self.front):
            child.stop()
        self.front.clear()
        run_together([stack.stop for stack in self.regions.values()])
        self.shared.stop()

    def announce(self) -> None:
        lines = [f"The regions are running: send traffic to http://127.0.0.1:{self.config.front_port}"]
        for name, stack in self.regions.items():
            ports = stack.ports
            lines.append(f"  {name:<10}  webapp {ports.webapp}, mlapp {ports.mlapp}, dbapp {ports.dbapp}")
        lines += [
            f"  front       http://127.0.0.1:{self.config.front_port} (HAProxy; runtime API 127.0.0.1:"
            f"{self.config.runtime_port})",
            f"  controller  http://127.0.0.1:{self.config.controller_port}/metrics",
            f"  shared      Pub/Sub {self.shared.ports.pubsub}, MLflow {self.shared.ports.mlflow}, "
            f"dispatcher {self.shared.ports.dispatcher}, store {self.config.launcher.data_dir / 'dbapp.sqlite3'}",
            "Press Ctrl-C to stop. `make failover-drill` runs the failover drill against a fresh copy.",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def up_regions(log_dir: Path | None = None) -> int:
    regions = Regions(RegionsConfig.from_env(os.environ), log_dir)
    regions.check_ports_free()
    stopping = stop_on_signals(log, "stopping every component")
    os.environ.update(regions.shared.env())
    settings = Settings.from_env("platform")
    try:
        regions.start(settings, stopping)
        if stopping.is_set():
            return 0
        regions.announce()
        bus = {"pubsub": lambda: recreate_bus(regions.shared, settings)}
        supervisor = Supervisor(regions.children, after_restart=bus)
        while not stopping.wait(1.0):
            supervisor.tick()
        return 0
    except (components.MissingPrerequisite, NotReady) as exc:
        log.error(str(exc))
        return 1
    finally:
        regions.stop()
        log.info("every component stopped; data kept in " + str(regions.config.launcher.data_dir))
