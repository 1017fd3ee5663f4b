"""Prometheus config and alert rules of k8s_web/base/monitoring, checked by the real `promtool` (Debian's
`prometheus` package, installed by scripts/install_system_packages.sh): the config loads, the rules load, and
the unit tests of every alert (alert-rules.test.yml) pass. Skips with the reason only when promtool is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[2] / "k8s_web" / "base" / "monitoring"
MOUNTED_RULES = "/etc/prometheus/alert-rules.yml"  # where the ConfigMap puts alert-rules.yml in the pod


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_prometheus_config_is_valid(promtool: str, tmp_path: Path) -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert config["rule_files"] == [MOUNTED_RULES]
    # The pod reads the rules from the ConfigMap mount; here the same file is laid out beside a copy.
    shutil.copy(MONITORING / "alert-rules.yml", tmp_path / "alert-rules.yml")
    config["rule_files"] = [str(tmp_path / "alert-rules.yml")]
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False))

    result = run(promtool, "check", "config", str(copy))
    if result.returncode != 0 and "field kubernetes_sd_configs not found" in result.stdout + result.stderr:
        # Debian builds Prometheus without the Kubernetes service discovery: check everything else (relabelling,
        # scrape settings, the rule file) with the discovery swapped for a static target. The discovery block
        # itself is checked by test_monitoring_config.py.
        print("promtool lacks kubernetes_sd (Debian build): checking the config with a static target instead")
        for job in config["scrape_configs"]:
            if job.pop("kubernetes_sd_configs", None) is not None:
                job["static_configs"] = [{"targets": ["10.0.0.1:8080"]}]
        copy.write_text(yaml.safe_dump(config, sort_keys=False))
        result = run(promtool, "check", "config", str(copy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "1 rule files found" in result.stdout, result.stdout


def test_alert_rules_are_valid(promtool: str) -> None:
    result = run(promtool, "check", "rules", "alert-rules.yml", cwd=MONITORING)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", "alert-rules.test.yml", cwd=MONITORING)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("alert", "old", "new"),
    [
        ("MlappPredictionLatencyP99High", "> 0.25", "> 0.6"),
        ("ServiceDown", "for: 2m", "for: 20m"),
        ("MlappPredictionErrorRatioHigh", 'error_type!="invalid_input"', 'error_type="invalid_input"'),
        ("ChampionLiveMaeHigh", "> 1.5", "> 2.5"),
        ("ChampionLiveMaeHigh", ">= 30", ">= 20"),
        ("ModelInputDrift", ">= 500", ">= 100"),
        ("ModelInputDrift", "> 0.25", "> 0.5"),
        ("RetrainDispatchFailing", "for: 30m", "for: 10m"),
        ("AlertmanagerNotificationsFailing", "for: 20m", "for: 5m"),
    ],
)
def test_alert_unit_tests_catch_a_broken_rule(promtool: str, tmp_path: Path, alert: str, old: str, new: str) -> None:
    """The unit tests are not vacuous: a rule with a wrong threshold, duration or filter fails them."""
    rules = yaml.safe_load((MONITORING / "alert-rules.yml").read_text())
    changed = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") != alert:
                continue
            if old.startswith("for: "):
                assert rule["for"] == old.removeprefix("for: ")
                rule["for"] = new.removeprefix("for: ")
            else:
                assert old in rule["expr"]
                rule["expr"] = rule["expr"].replace(old, new)
            changed += 1
    assert changed == 1
    (tmp_path / "alert-rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(MONITORING / "alert-rules.test.yml", tmp_path / "alert-rules.test.yml")

    result = run(promtool, "test", "rules", "alert-rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"alertname: {alert}" in result.stdout + result.stderr
