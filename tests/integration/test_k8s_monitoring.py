"""The monitoring workloads on the rendered manifests: Prometheus discovers the pods, is not public and keeps its
data on a claim with a retention below its size, Alertmanager reads its config and the receivers' Secret and
receives Prometheus' alerts, every rule links a runbook that exists, Grafana reads Prometheus and the mounted
dashboards, kube-state-metrics watches only batch objects."""

from __future__ import annotations

import re
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


def _deployment(objs, name):
    (dep,) = [d for d in k8s.of_kind(objs, "Deployment") if d["metadata"]["name"] == name]
    return dep


def _mounts(dep):
    """{mountPath: volume} of the Deployment's first container."""
    spec = dep["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    return {m["mountPath"]: volumes[m["name"]] for m in spec["containers"][0]["volumeMounts"]}


def _arg(container, flag):
    (value,) = [a.split("=", 1)[1] for a in container["args"] if a.startswith(f"--{flag}=")]
    return value


@targets
def test_alertmanager_reads_its_config_and_the_receivers_secret_and_prometheus_sends_to_it(target):
    objs = k8s.render(target)
    if k8s.tree_of(target) != "k8s_web":
        assert not [d for d in k8s.of_kind(objs, "Deployment") if d["metadata"]["name"] == "alertmanager"]
        return
    dep = _deployment(objs, "alertmanager")
    spec = dep["spec"]["template"]["spec"]
    (manager,) = spec["containers"]
    assert manager["image"].split("/")[-1].split(":")[0] == "alertmanager"
    assert spec["automountServiceAccountToken"] is False, "Alertmanager never calls the Kubernetes API"
    assert (manager["livenessProbe"]["httpGet"]["path"], manager["readinessProbe"]["httpGet"]["path"]) == (
        "/-/healthy",
        "/-/ready",
    )
    assert _arg(manager, "cluster.listen-address") == "", "one replica: no gossip"
    mounts = _mounts(dep)
    config_file = _arg(manager, "config.file")
    directory, key = config_file.rsplit("/", 1)
    config_map = _config_map(objs, "alertmanager-config")
    assert mounts[directory]["configMap"]["name"] == config_map["metadata"]["name"]
    config = yaml.safe_load(config_map["data"][key])
    # every file the config reads is a key of the receivers Secret, mounted where the config looks
    secret = next(v["secret"] for v in mounts.values() if "secret" in v)
    assert secret["secretName"] == "alertmanager-receivers"
    secret_dir = next(path for path, v in mounts.items() if "secret" in v)
    projected = {f"{secret_dir}/{item['path']}" for item in secret["items"]}
    files = {
        value
        for receiver in config["receivers"]
        for kind, integrations in receiver.items()
        if kind != "name"
        for integration in integrations
        for name, value in integration.items()
        if name.endswith("_file")
    }
    assert files and files == projected
    # Prometheus' alerting target is this Service, on a port it exposes, selecting this pod
    (service,) = [s for s in k8s.of_kind(objs, "Service") if s["metadata"]["name"] == "alertmanager"]
    prometheus = yaml.safe_load(_config_map(objs, "prometheus-config")["data"]["prometheus.yml"])
    ((target_address,),) = [c["targets"] for m in prometheus["alerting"]["alertmanagers"] for c in m["static_configs"]]
    host, port = target_address.rsplit(":", 1)
    assert host == f"alertmanager.{service['metadata']['namespace']}.svc.cluster.local"
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    assert k8s.selector_matches(
        {"matchLabels": service["spec"]["selector"]}, dep["spec"]["template"]["metadata"]["labels"]
    )


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def _bytes(quantity: str) -> int:
    """A Kubernetes quantity (20Gi) or a Prometheus size (16GB: Prometheus' units are powers of 1024)."""
    number, unit = re.fullmatch(r"(\d+)([KMGT][iB])", quantity).groups()
    return int(number) * _UNITS[unit]


@targets
def test_prometheus_keeps_its_data_on_a_claim_with_a_retention_below_its_size(target):
    objs = k8s.render(target)
    if k8s.tree_of(target) != "k8s_web":
        assert not k8s.of_kind(objs, "PersistentVolumeClaim")
        return
    dep = _deployment(objs, "prometheus")
    (prometheus,) = dep["spec"]["template"]["spec"]["containers"]
    data = _mounts(dep)[_arg(prometheus, "storage.tsdb.path")]
    assert "emptyDir" not in data, "Prometheus' TSDB must survive a restart"
    claim_name = data["persistentVolumeClaim"]["claimName"]
    (claim,) = [c for c in k8s.of_kind(objs, "PersistentVolumeClaim") if c["metadata"]["name"] == claim_name]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert dep["spec"]["strategy"]["type"] == "Recreate", "a ReadWriteOnce volume is held by one pod at a time"
    assert re.fullmatch(r"\d+[dhw]", _arg(prometheus, "storage.tsdb.retention.time"))
    size = _bytes(_arg(prometheus, "storage.tsdb.retention.size"))
    requested = _bytes(claim["spec"]["resources"]["requests"]["storage"])
    assert size <= 0.85 * requested, "leave the write-ahead log and compaction room on the volume"


@pytest.mark.parametrize("target", ["k8s_web/overlays/prod", "k8s_web/overlays/dev"])
def test_every_rendered_rule_links_a_runbook_that_exists(target):
    rules = yaml.safe_load(_config_map(k8s.render(target), "prometheus-config")["data"]["alert-rules.yml"])
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    assert len(alerts) >= 17
    for rule in alerts:
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/runbooks/{rule['alert']}.md"
        assert (k8s.REPO / url).is_file(), url
