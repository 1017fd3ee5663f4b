"""PromQL of the monitoring folder: every expression of the Grafana dashboard, of the alert rules and of seed
004's query list (seed-queries.yml) parses with `promtool`, the dashboard has a panel for every seed query,
and every metric name used is one that webapp, mlapp, dbapp or the dispatcher really exposes (or `up`,
kube-state-metrics' or Alertmanager's own)."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[2] / "k8s_web" / "base" / "monitoring"
SERVICES = {
    "webapp": "webapp.metrics",
    "mlapp": "mlapp.metrics",
    "dbapp": "dbapp.metrics",
    "dispatcher": "dispatcher.dispatch",
    "failover-controller": "failover.metrics",  # the job is the pod's app label, not the package
}
# Needed by the CronJob alerts and panels; they come from kube-state-metrics v2, not from the platform.
KUBE_STATE_METRICS = {
    "kube_cronjob_created",
    "kube_cronjob_next_schedule_time",
    "kube_cronjob_spec_suspend",
    "kube_cronjob_status_last_schedule_time",
    "kube_cronjob_status_last_successful_time",
}
PROMETHEUS_OWN = {"up"}
# Alertmanager's own metrics (scraped as job alertmanager), used by the rule about notifications that fail.
ALERTMANAGER = {"alertmanager_notifications_total", "alertmanager_notifications_failed_total"}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
_KEYWORDS |= {"group_left", "group_right"}


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expr) of every target of every panel, rows included."""
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            found.extend((inner["title"], target["expr"]) for target in inner.get("targets", []))
    return found


def alert_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load((MONITORING / "alert-rules.yml").read_text())
    return [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def seed_queries() -> list[dict]:
    return yaml.safe_load((MONITORING / "seed-queries.yml").read_text())["queries"]


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers that are not functions, keywords, label names in
    matchers or grouping clauses, durations or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = _GROUPING.sub(" ", text)
    names = {m.group(1) for m in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()", text)}
    return {name for name in names if name.lower() not in _KEYWORDS}


def selected_jobs(expr: str) -> list[tuple[str, str]]:
    """(metric name, job) for every selector that names both."""
    found = []
    for match in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        job = re.search(r'\bjob\s*=\s*"([^"]+)"', match.group(2))
        if job:
            found.append((match.group(1), job.group(1)))
    return found


SUFFIXES = {
    "counter": ["_total"],
    "gauge": [""],
    "histogram": ["_bucket", "_sum", "_count"],
    "summary": ["", "_sum", "_count"],
    "info": ["_info"],
}


def collected_at_scrape_time(package: str) -> set[str]:
    """Series of the collectors a service computes at scrape time (`GaugeMetricFamily("name", ...)` and the like
    anywhere in its package): they are classes, not metric objects, so only their source names them."""
    names: set[str] = set()
    for path in Path(importlib.import_module(package).__path__[0]).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            kind = func.removesuffix("MetricFamily").lower()
            if func.endswith("MetricFamily") and kind in SUFFIXES and isinstance(node.args[0].value, str):
                names.update(node.args[0].value + suffix for suffix in SUFFIXES[kind])
    return names


def exposed_names() -> dict[str, set[str]]:
    """Series names each service defines, with the suffixes Prometheus adds by type: the metric objects of its
    metrics module and its scrape-time collectors."""
    exposed: dict[str, set[str]] = {}
    for service, module_name in SERVICES.items():
        module = importlib.import_module(module_name)
        names: set[str] = set()
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    names.update(family.name + suffix for suffix in SUFFIXES[family.type])
        assert names, f"no metrics found in {module_name}"
        exposed[service] = names | collected_at_scrape_time(module_name.split(".")[0])
    exposed["alertmanager"] = ALERTMANAGER
    return exposed


def check_parse(promtool: str, tmp_path: Path, exprs: list[tuple[str, str]]) -> None:
    """Wrap every expression as a recording rule and let promtool parse the file."""
    rules = [{"record": f"check:expr_{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]
    path = tmp_path / "exprs.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "parse", "rules": rules}]}, sort_keys=False))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout, result.stdout


def test_seed_query_list_is_complete() -> None:
    queries = seed_queries()
    assert len(queries) == 32
    assert [q["expr"] for q in queries if "images/" in q["expr"]] == []
    exprs = {q["expr"] for q in queries}
    for expected in (
        'up{job="dbapp"}',
        "histogram_quantile(0.95, sum(rate(prediction_latency_seconds_bucket[5m])) by (le, experiment))",
        "mongo_active_connections",
    ):
        assert expected in exprs


def test_every_dashboard_expression_parses(promtool: str, tmp_path: Path) -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 40
    assert [(title, e) for title, e in exprs if "$" in e] == [], "template variables are not PromQL"
    check_parse(promtool, tmp_path, exprs)


def test_every_seed_query_parses(promtool: str, tmp_path: Path) -> None:
    check_parse(promtool, tmp_path, [(q["title"], q["expr"]) for q in seed_queries()])


def test_parse_check_rejects_bad_promql(promtool: str, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="parse error"):
        check_parse(promtool, tmp_path, [("broken", "sum(rate(prediction_requests_total[5m]) by (status")])


def _normalise(expr: str) -> str:
    """The expression without `job` matchers and whitespace: the dashboard adds `{job="..."}` to seed queries."""
    expr = re.sub(r'\s*,?\s*\bjob\s*=\s*"[^"]*"\s*,?', "", expr)
    return re.sub(r"\{\s*\}", "", re.sub(r"\s+", "", expr))


def test_dashboard_has_a_panel_for_every_seed_query() -> None:
    panels: dict[str, list[str]] = {}
    for title, expr in dashboard_exprs():
        panels.setdefault(_normalise(expr), []).append(title)
    missing = []
    for query in seed_queries():
        wanted = query.get("dashboard_expr", query["expr"])
        titles = panels.get(_normalise(wanted), [])
        if not any(title.startswith(query["title"]) for title in titles):
            missing.append((query["title"], wanted))
    assert missing == []


def test_normalise_keeps_different_queries_apart() -> None:
    assert _normalise('rate(db_errors_total{job="dbapp"}[5m])') == _normalise("rate(db_errors_total[5m])")
    assert _normalise('rate(x{job="a", le="1"}[5m])') == _normalise('rate(x{le="1"}[5m])')
    assert _normalise("rate(db_errors_total[5m])") != _normalise("rate(db_errors_total[1m])")


def test_metric_name_extraction() -> None:
    expr = (
        'sum by (namespace) (rate(prediction_errors_total{job="mlapp", error_type!="invalid_input"}[5m])) '
        "/ on (namespace) group_left sum(rate(prediction_requests_total[5m])) > 0.05 and time() - up offset 5m"
    )
    assert metric_names(expr) == {"prediction_errors_total", "prediction_requests_total", "up"}
    assert metric_names('count by (__name__) ({job="mlapp"})') == set()
    assert metric_names("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 1e3") == {"x_bucket"}


@pytest.mark.parametrize("source", ["dashboard", "alerts", "seed"])
def test_every_metric_name_is_exposed_by_a_service(source: str) -> None:
    exprs = {"dashboard": dashboard_exprs, "alerts": alert_exprs}.get(
        source, lambda: [(q["title"], q["expr"]) for q in seed_queries()]
    )()
    exposed = exposed_names()
    known = set().union(*exposed.values()) | KUBE_STATE_METRICS | PROMETHEUS_OWN
    unknown = sorted({(title, name) for title, expr in exprs for name in metric_names(expr) if name not in known})
    assert unknown == []
    # A selector that names a job must ask that job for a metric it exposes (webapp and mlapp share names).
    wrong_job = sorted(
        (title, name, job)
        for title, expr in exprs
        for name, job in selected_jobs(expr)
        if name not in PROMETHEUS_OWN and name not in exposed.get(job, set())
    )
    assert wrong_job == []


def test_seed_and_new_metrics_are_exposed() -> None:
    """The names this folder relies on, as the services define them (guards the check above against a parser
    that finds nothing)."""
    exposed = exposed_names()
    assert {"model_load_failures_total", "serving_model_version", "prediction_latency_seconds_bucket"} <= exposed[
        "mlapp"
    ]
    assert {"db_errors_total", "mongo_health_status", "store_latency_seconds_bucket"} <= exposed["dbapp"]
    assert {"error_count_total", "correction_requests_total"} <= exposed["webapp"]
    assert "serving_model_version" not in exposed["webapp"]
    # the live-quality and drift names agreed between dbapp, mlapp and the alert rules
    assert {"model_live_mae_dollars", "model_live_corrections"} <= exposed["dbapp"]
    assert {"model_holdout_mae_dollars", "model_input_drift_psi", "model_input_drift_window_requests"} <= exposed[
        "mlapp"
    ]
    assert "dispatcher_dispatches_total" in exposed["dispatcher"]
    used = set().union(*(metric_names(expr) for _, expr in dashboard_exprs() + alert_exprs()))
    assert {"serving_model_version", "model_load_failures_total", "batch_prediction_requests_total"} <= used
    assert {"model_live_mae_dollars", "model_holdout_mae_dollars", "model_input_drift_psi"} <= used
