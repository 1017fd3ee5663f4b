"""What promtool cannot tell about k8s_web/base/monitoring: which pods the scrape config turns into which
targets (its relabelling applied to sample pods, with Prometheus' semantics), that every alert is routable and
unit-tested, and that the Grafana dashboard is provisionable (datasource variable, unique ids)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[2] / "k8s_web" / "base" / "monitoring"


def load(name: str) -> dict:
    return yaml.safe_load((MONITORING / name).read_text())


def pods_job() -> dict:
    [job] = [j for j in load("prometheus.yml")["scrape_configs"] if j["job_name"] == "kubernetes-pods"]
    return job


def relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    """Prometheus relabelling (keep, drop, replace): anchored RE2-compatible regexes, `$1` references; None
    when the target is dropped."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace")
        value = config.get("separator", ";").join(labels.get(s, "") for s in config.get("source_labels", []))
        match = re.fullmatch(config.get("regex", "(.*)"), value)
        if action == "keep":
            if match is None:
                return None
        elif action == "drop":
            if match is not None:
                return None
        elif action == "replace":
            if match is None:
                continue
            template = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", config.get("replacement", "$1"))
            result = match.expand(template)
            if result:
                labels[config["target_label"]] = result
            else:
                labels.pop(config["target_label"], None)
        else:
            raise AssertionError(f"relabel action {action} not simulated")
    return labels


def pod(name: str, namespace: str = "web", phase: str = "Running", ip: str = "10.4.0.7", port: str = "8081", **meta):
    labels = {
        "__address__": f"{ip}:{port}" if ":" not in ip else f"[{ip}]:{port}",
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
        "job": "kubernetes-pods",
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_ip": ip,
        "__meta_kubernetes_pod_phase": phase,
        "__meta_kubernetes_pod_node_name": "gke-node-1",
        "__meta_kubernetes_pod_container_port_number": port,
    }
    labels.update({f"__meta_kubernetes_pod_{k}": v for k, v in meta.items()})
    return labels


ANNOTATED = {
    "annotation_prometheus_io_scrape": "true",
    "annotation_prometheus_io_port": "8081",
    "annotation_prometheus_io_path": "/metrics",
}


def target(labels: dict[str, str]) -> dict[str, str] | None:
    result = relabel(labels, pods_job()["relabel_configs"])
    if result is None:
        return None
    return {k: v for k, v in result.items() if not k.startswith("__meta_")}


def test_discovers_pods_of_namespaces_web_and_ml() -> None:
    job = pods_job()
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["web", "ml"]}}]
    assert "static_configs" not in job


def test_annotated_pod_becomes_a_target_named_by_its_app_label() -> None:
    got = target(pod("mlapp-7d9-x2", ip="10.4.0.7", port="9999", label_app="mlapp", **ANNOTATED))
    assert got == {
        "__address__": "10.4.0.7:8081",
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
        "job": "mlapp",
        "namespace": "web",
        "pod": "mlapp-7d9-x2",
        "node": "gke-node-1",
    }


def test_annotations_choose_path_scheme_and_ipv6_address() -> None:
    meta = {**ANNOTATED, "annotation_prometheus_io_path": "/internal/metrics", "annotation_prometheus_io_port": "8082"}
    got = target(pod("dbapp-1", ip="fd00:10:4::7", label_app="dbapp", annotation_prometheus_io_scheme="https", **meta))
    assert got is not None
    assert got["__address__"] == "[fd00:10:4::7]:8082"
    assert got["__metrics_path__"] == "/internal/metrics"
    assert got["__scheme__"] == "https"
    assert got["job"] == "dbapp"


def test_job_falls_back_to_the_recommended_name_label() -> None:
    got = target(pod("mlflow-0", namespace="ml", label_app_kubernetes_io_name="mlflow", **ANNOTATED))
    assert got is not None
    assert (got["job"], got["namespace"]) == ("mlflow", "ml")
    both = target(pod("w", label_app="webapp", label_app_kubernetes_io_name="frontend", **ANNOTATED))
    assert both is not None
    assert both["job"] == "webapp"


@pytest.mark.parametrize(
    "labels",
    [
        pod("no-annotation", label_app="webapp"),
        pod("opted-out", label_app="webapp", **{**ANNOTATED, "annotation_prometheus_io_scrape": "false"}),
        pod("finished-job", namespace="ml", phase="Succeeded", label_app="data-job", **ANNOTATED),
        pod("starting", phase="Pending", label_app="mlapp", **ANNOTATED),
    ],
    ids=["unannotated", "scrape-false", "succeeded", "pending"],
)
def test_pods_not_asking_to_be_scraped_or_not_running_are_dropped(labels: dict[str, str]) -> None:
    assert target(labels) is None


def test_rule_file_is_the_mounted_alert_rules() -> None:
    config = load("prometheus.yml")
    assert config["rule_files"] == ["/etc/prometheus/alert-rules.yml"]
    assert (MONITORING / "alert-rules.yml").is_file()
    ksm = [j for j in config["scrape_configs"] if j["job_name"] == "kube-state-metrics"]
    assert ksm and ksm[0]["honor_labels"] is True


def alerts() -> list[dict]:
    return [rule for group in load("alert-rules.yml")["groups"] for rule in group["rules"]]


def test_every_alert_has_severity_summary_and_description() -> None:
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    for rule in alerts():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["description"]) > 40, rule["alert"]
        assert "for" in rule, rule["alert"]


def test_the_required_alerts_exist() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alerts()}
    assert 'up{job=~"webapp|mlapp|dbapp"} == 0' in exprs["ServiceDown"]
    assert "histogram_quantile(0.99" in exprs["MlappPredictionLatencyP99High"]
    assert "serving_model_version" in exprs["ChampionNotLoaded"]
    assert "model_load_failures_total" in exprs["ModelLoadFailing"]
    assert "kube_cronjob_status_last_successful_time" in exprs["CronJobNoRecentSuccess"]
    for name, metric in [
        ("MlappPredictionErrorRatioHigh", "prediction_errors_total"),
        ("WebappErrorRatioHigh", "error_count_total"),
        ("DbappErrorRatioHigh", "db_errors_total"),
    ]:
        assert metric in exprs[name]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load("alert-rules.test.yml")["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - firing == set()
    assert names - quiet == set()


def test_grafana_dashboard_is_provisionable() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    assert dashboard["schemaVersion"] >= 36
    assert "id" not in dashboard or dashboard["id"] is None
    [variable] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${" + variable["name"] + "}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    titles = {p["title"] for p in dashboard["panels"]}
    for new in ("Serving model version", "Model loads and load failures (per hour)", "Batch predictions"):
        assert new in titles
    assert any("correction" in t.lower() for t in titles)


RUNBOOKS = MONITORING.parents[2] / "docs" / "runbooks"
RUNBOOK_SECTIONS = ("## What it means", "## What to check", "## What to do")


def test_every_alert_links_its_runbook_and_every_runbook_has_an_alert() -> None:
    names = {rule["alert"] for rule in alerts()}
    for rule in alerts():
        assert rule["annotations"].get("runbook_url") == f"docs/runbooks/{rule['alert']}.md", rule["alert"]
    pages = {path.stem for path in RUNBOOKS.glob("*.md") if path.name != "README.md"}
    assert names - pages == set(), "alerts without a runbook"
    assert pages - names == set(), "runbooks without an alert"
    index = (RUNBOOKS / "README.md").read_text()
    assert {name for name in names if f"[{name}]({name}.md)" not in index} == set(), "alerts missing from the index"


@pytest.mark.parametrize("page", sorted(p.name for p in RUNBOOKS.glob("*.md") if p.name != "README.md"))
def test_each_runbook_says_what_it_means_what_to_check_and_what_to_do(page: str) -> None:
    text = (RUNBOOKS / page).read_text()
    assert text.startswith(f"# {page.removesuffix('.md')}\n"), page
    positions = [text.find(section) for section in RUNBOOK_SECTIONS]
    assert -1 not in positions and positions == sorted(positions), f"{page}: sections {RUNBOOK_SECTIONS} in order"
    check = text[positions[1] : positions[2]]
    # concrete checks: a command, a query or an address, in code quotes
    assert re.search(r"`[^`]*(kubectl|curl|gcloud|\{job=|\[\d+[mh]\]|http://)[^`]*`", check), page
    assert "Severity** " + next(r["labels"]["severity"] for r in alerts() if f"{r['alert']}.md" == page) in text


def alertmanager() -> dict:
    return load("alertmanager.yml")


def test_alertmanager_routes_each_severity_to_its_receiver() -> None:
    config = alertmanager()
    route = config["route"]
    by_severity = {}
    for child in route["routes"]:
        ((matcher,),) = [child["matchers"]]
        label, value = re.fullmatch(r'(\w+)="(\w+)"', matcher).groups()
        assert label == "severity", matcher
        by_severity[value] = child["receiver"]
    assert by_severity == {"critical": "page", "warning": "ticket"}
    assert route["receiver"] == "ticket", "an alert without a known severity still reaches someone"
    assert {"alertname", "namespace"} <= set(route["group_by"])
    used = {rule["labels"]["severity"] for rule in alerts()}
    assert used <= set(by_severity), "a severity of the rules has no route"
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {"page", "ticket"}
    assert "pagerduty_configs" in receivers["page"] and "webhook_configs" in receivers["ticket"]
    assert all("slack_configs" in r for r in receivers.values())


SECRET_FIELDS = {"url", "api_url", "routing_key", "service_key", "auth_password", "api_key", "token"}
RECEIVERS_DIR = "/etc/alertmanager/receivers/"


def test_alertmanager_config_holds_no_secret_only_files_of_the_receivers_secret() -> None:
    files = []
    for receiver in alertmanager()["receivers"]:
        for kind, integrations in receiver.items():
            if kind == "name":
                continue
            for integration in integrations:
                assert not SECRET_FIELDS & set(integration), f"{receiver['name']} {kind}: a secret written inline"
                files += [v for k, v in integration.items() if k.endswith("_file")]
                assert integration.get("send_resolved") is True, f"{receiver['name']} {kind}"
    assert files and all(f.startswith(RECEIVERS_DIR) for f in files), files
    assert {f.removeprefix(RECEIVERS_DIR) for f in files} == {
        "pagerduty-routing-key",
        "slack-webhook-url",
        "webhook-url",
    }


def test_prometheus_sends_alerts_to_alertmanager() -> None:
    (manager,) = load("prometheus.yml")["alerting"]["alertmanagers"]
    assert manager["static_configs"] == [{"targets": ["alertmanager.web.svc.cluster.local:9093"]}]
