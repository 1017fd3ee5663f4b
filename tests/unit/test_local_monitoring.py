"""`make up`'s local Prometheus and Alertmanager (local_platform.monitoring): the scrape config they are given,
and that missing binaries or taken ports cost one log line, never the platform."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from local_platform import monitoring
from local_platform.config import LauncherConfig
from local_platform.processes import Child, free_port
from local_platform.stack import Ports, Stack

PORTS = Ports(webapp=18080, mlapp=18081, dbapp=18082, dispatcher=18084, prometheus=19090, alertmanager=19093)


def targets(config: dict) -> dict[str, tuple[str, dict]]:
    found = {}
    for job in config["scrape_configs"]:
        ((target,),) = [static["targets"] for static in job["static_configs"]]
        found[job["job_name"]] = (target, job["static_configs"][0].get("labels", {}))
    return found


def test_prometheus_scrapes_every_component_on_its_port_with_the_clusters_rules() -> None:
    config = monitoring.prometheus_config(PORTS, alertmanager=True)
    jobs = targets(config)
    assert {name: target for name, (target, _) in jobs.items()} == {
        "prometheus": "127.0.0.1:19090",
        "webapp": "127.0.0.1:18080",
        "mlapp": "127.0.0.1:18081",
        "dbapp": "127.0.0.1:18082",
        "dispatcher": "127.0.0.1:18084",
        "alertmanager": "127.0.0.1:19093",
    }
    assert jobs["mlapp"][1] == {"namespace": "local", "pod": "mlapp-local"}
    (rules,) = config["rule_files"]
    assert Path(rules) == monitoring.REPO_ROOT / "k8s_web" / "base" / "monitoring" / "alert-rules.yml"
    assert Path(rules).is_file()
    (manager,) = config["alerting"]["alertmanagers"]
    assert manager["static_configs"] == [{"targets": ["127.0.0.1:19093"]}]
    assert config["global"]["scrape_interval"] == "15s"


def test_without_alertmanager_prometheus_neither_sends_nor_scrapes_it() -> None:
    config = monitoring.prometheus_config(PORTS, alertmanager=False)
    assert "alerting" not in config
    assert "alertmanager" not in targets(config)


def test_local_alertmanager_groups_like_the_cluster_and_notifies_no_one() -> None:
    config = monitoring.alertmanager_config()
    cluster = yaml.safe_load((monitoring.RULES.parent / "alertmanager.yml").read_text())
    assert config["route"]["group_by"] == cluster["route"]["group_by"]
    assert config["receivers"] == [{"name": "local"}]


def test_commands_keep_data_under_the_platform_folder(tmp_path: Path) -> None:
    child = monitoring.prometheus_child("prometheus", PORTS, tmp_path / "prometheus", True, None)
    assert f"--storage.tsdb.path={tmp_path / 'prometheus' / 'data'}" in child.cmd
    assert "--web.listen-address=127.0.0.1:19090" in child.cmd
    assert any(arg.startswith("--storage.tsdb.retention.size=") for arg in child.cmd)
    written = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    assert written == monitoring.prometheus_config(PORTS, alertmanager=True)
    manager = monitoring.alertmanager_child("alertmanager", 19093, tmp_path / "alertmanager", None)
    assert f"--storage.path={tmp_path / 'alertmanager' / 'data'}" in manager.cmd
    assert "--cluster.listen-address=" in manager.cmd
    assert (tmp_path / "alertmanager" / "alertmanager.yml").is_file()


def test_missing_binaries_cost_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(monitoring.shutil, "which", lambda name: None)
    with caplog.at_level(logging.INFO, logger="platform"):
        assert monitoring.start(PORTS, tmp_path) == []
    (record,) = caplog.records
    assert "prometheus is not installed" in record.getMessage()
    assert "apt-get install prometheus prometheus-alertmanager" in record.getMessage()
    assert not (tmp_path / "prometheus").exists()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_port_skips_monitoring_but_not_the_platform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture, taken_port: int
) -> None:
    monkeypatch.setattr(monitoring.shutil, "which", lambda name: f"/usr/bin/{name}")
    ports = Ports(prometheus=taken_port)
    with caplog.at_level(logging.INFO, logger="platform"):
        assert monitoring.start(ports, tmp_path) == []
    (record,) = caplog.records
    assert f"port {taken_port} is already in use" in record.getMessage() and "PROMETHEUS_PORT" in record.getMessage()
    # the platform's own check leaves the monitoring ports alone, and still refuses a taken component port
    Stack(tmp_path, Ports(prometheus=taken_port, alertmanager=taken_port, **_free_ports())).check_ports_free()
    with pytest.raises(SystemExit, match=f"webapp \\({taken_port}\\)"):
        Stack(tmp_path, Ports(**{**_free_ports(), "webapp": taken_port})).check_ports_free()


def _free_ports() -> dict[str, int]:
    return {name: free_port() for name in ("pubsub", "mlflow", "dbapp", "mlapp", "webapp", "dispatcher")}


def test_the_launcher_reads_the_monitoring_ports() -> None:
    config = LauncherConfig.from_env({"PROMETHEUS_PORT": "19999", "ALERTMANAGER_PORT": "19998"})
    assert (config.ports.prometheus, config.ports.alertmanager) == (19999, 19998)
    assert (Ports().prometheus, Ports().alertmanager) == (9090, 9093)


def test_the_announcement_lists_only_what_runs() -> None:
    children = [Child("prometheus", ["true"]), Child("webapp", ["true"])]
    assert monitoring.addresses(children, PORTS) == ["  Prometheus    http://127.0.0.1:19090"]
    assert monitoring.addresses([], PORTS) == []
