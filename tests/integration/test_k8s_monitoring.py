"""The monitoring workloads on the rendered manifests: Prometheus discovers the pods and is not public, Grafana
reads Prometheus and the mounted dashboards, kube-state-metrics watches only batch objects."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import yaml

from tests import k8s_support as k8s

pytestmark = pytest.mark.integration

targets = pytest.mark.parametrize("target", k8s.TARGETS)


@targets
def test_prometheus_discovers_pods_and_is_not_public(target):
    objs = k8s.render(target)
    if k8s.tree_of(target) != "k8s_web":
        assert not [d for d in k8s.of_kind(objs, "Deployment") if d["metadata"]["name"] == "prometheus"]
        return
    (role,) = [r for r in k8s.of_kind(objs, "ClusterRole") if any("pods" in x["resources"] for x in r["rules"])]
    verbs = {v for r in role["rules"] if "pods" in r["resources"] for v in r["verbs"]}
    assert {"get", "list", "watch"} <= verbs
    bindings = [b for b in k8s.of_kind(objs, "ClusterRoleBinding") if b["roleRef"]["name"] == role["metadata"]["name"]]
    assert {"kind": "ServiceAccount", "name": "prometheus", "namespace": "web"} in bindings[0]["subjects"]
    config_maps = {c["metadata"]["name"].rsplit("-", 1)[0]: c for c in k8s.of_kind(objs, "ConfigMap")}
    assert "kubernetes_sd_configs" in config_maps["prometheus-config"]["data"]["prometheus.yml"]
    assert "alert-rules.yml" in config_maps["prometheus-config"]["data"]
    assert "grafana-dashboard.json" in config_maps["grafana-dashboards"]["data"]
    for dep in k8s.serving_deployments(objs):
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"].isdigit()


def _config_map(objs, base_name):
    """The ConfigMap called base_name, with or without kustomize's hash suffix."""
    (cm,) = [
        c
        for c in k8s.of_kind(objs, "ConfigMap")
        if c["metadata"]["name"] == base_name or c["metadata"]["name"].rsplit("-", 1)[0] == base_name
    ]
    return cm


@targets
def test_grafana_reads_prometheus_and_the_mounted_dashboards(target):
    objs = k8s.render(target)
    if k8s.tree_of(target) != "k8s_web":
        return
    (dep,) = [d for d in k8s.of_kind(objs, "Deployment") if d["metadata"]["name"] == "grafana"]
    spec = dep["spec"]["template"]["spec"]
    (grafana,) = spec["containers"]
    assert grafana["image"].split("/")[-1].split(":")[0] == "grafana"
    assert spec["securityContext"]["runAsUser"] == 472
    for probe in ("livenessProbe", "readinessProbe"):
        assert grafana[probe]["httpGet"]["path"] == "/api/health"
    env = {e["name"]: e for e in grafana["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "grafana-admin"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"]["value"] == "false"
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {volumes[m["name"]].get("configMap", {}).get("name"): m["mountPath"] for m in grafana["volumeMounts"]}
    for path in ("/var/lib/grafana", "/tmp"):
        (mount,) = [m for m in grafana["volumeMounts"] if m["mountPath"] == path]
        assert "emptyDir" in volumes[mount["name"]], path

    # the datasource is the Prometheus Service, on a port it exposes
    services = {s["metadata"]["name"]: s for s in k8s.of_kind(objs, "Service")}
    datasources_cm = _config_map(objs, "grafana-datasources")
    assert mounts[datasources_cm["metadata"]["name"]] == "/etc/grafana/provisioning/datasources"
    (source,) = yaml.safe_load(datasources_cm["data"]["datasources.yaml"])["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus.web.svc.cluster.local", source["url"]
    assert url.port in {p["port"] for p in services["prometheus"]["spec"]["ports"]}
    assert services["prometheus"]["spec"]["selector"] == {"app": "prometheus"}

    # the dashboard provider reads the directory where the grafana-dashboards ConfigMap is mounted
    providers_cm = _config_map(objs, "grafana-dashboard-providers")
    assert mounts[providers_cm["metadata"]["name"]] == "/etc/grafana/provisioning/dashboards"
    (provider,) = yaml.safe_load(providers_cm["data"]["dashboards.yaml"])["providers"]
    dashboards_cm = _config_map(objs, "grafana-dashboards")
    assert provider["type"] == "file"
    assert provider["options"]["path"].rstrip("/") == mounts[dashboards_cm["metadata"]["name"]]
    assert "grafana-dashboard.json" in dashboards_cm["data"]

    assert services["grafana"]["spec"]["ports"][0]["port"] == 3000
    assert not [i for i in k8s.of_kind(objs, "Ingress") if i["metadata"]["name"] == "grafana"]


@targets
def test_kube_state_metrics_watches_only_batch_and_is_prometheus_target(target):
    objs = k8s.render(target)
    if k8s.tree_of(target) != "k8s_web":
        return
    (dep,) = [d for d in k8s.of_kind(objs, "Deployment") if d["metadata"]["name"] == "kube-state-metrics"]
    (ksm,) = dep["spec"]["template"]["spec"]["containers"]
    assert "--resources=cronjobs,jobs" in ksm["args"]
    ports = {p["name"]: p["containerPort"] for p in ksm["ports"]}
    assert ports == {"http-metrics": 8080, "telemetry": 8081}
    live, ready = ksm["livenessProbe"]["httpGet"], ksm["readinessProbe"]["httpGet"]
    assert (live["path"], ports[live["port"]]) == ("/livez", 8080)
    assert (ready["path"], ports[ready["port"]]) == ("/readyz", 8081)
    (role,) = [r for r in k8s.of_kind(objs, "ClusterRole") if r["metadata"]["name"].endswith("kube-state-metrics")]
    assert role["rules"] == [{"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": ["list", "watch"]}]
    (binding,) = [
        b for b in k8s.of_kind(objs, "ClusterRoleBinding") if b["roleRef"]["name"] == role["metadata"]["name"]
    ]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kube-state-metrics", "namespace": "web"}]
    # prometheus.yml's kube-state-metrics target is this Service and its metrics port
    config = yaml.safe_load(_config_map(objs, "prometheus-config")["data"]["prometheus.yml"])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "kube-state-metrics"]
    ((host_port,),) = [s["targets"] for s in job["static_configs"]]
    host, port = host_port.rsplit(":", 1)
    (svc,) = [s for s in k8s.of_kind(objs, "Service") if s["metadata"]["name"] == "kube-state-metrics"]
    assert host == f"kube-state-metrics.{svc['metadata']['namespace']}.svc.cluster.local"
    assert int(port) in {p["port"] for p in svc["spec"]["ports"]}
    assert k8s.selector_matches({"matchLabels": svc["spec"]["selector"]}, dep["spec"]["template"]["metadata"]["labels"])
