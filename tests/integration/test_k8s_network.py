"""The network rules of docs/architecture.md on the rendered manifests: default deny in each namespace, exactly
the allowed flows open (and the ones that must stay shut closed), every service URL in a ConfigMap a defined
Service and port, and the optional in-cluster MongoDB reachable only from dbapp."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests import k8s_support as k8s

pytestmark = pytest.mark.integration

targets = pytest.mark.parametrize("target", k8s.TARGETS)


@targets
def test_each_namespace_denies_by_default(target):
    objs = k8s.render(target)
    namespace = k8s.TREES[k8s.tree_of(target)]
    deny = [
        p
        for p in k8s.of_kind(objs, "NetworkPolicy")
        if p["metadata"]["namespace"] == namespace
        and p["spec"].get("podSelector") == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, f"no default-deny (ingress and egress) NetworkPolicy in namespace {namespace}"


# The network flows of docs/architecture.md (source app, destination app, port): open, and ones that stay shut.
ALLOWED = [
    ("webapp", "mlapp", 8081),
    ("webapp", "dbapp", 8082),
    ("data-job", "dbapp", 8083),
    ("mlapp", "mlflow", 5000),
    ("trainer", "mlflow", 5000),
    ("prometheus", "webapp", 8080),
    ("prometheus", "mlapp", 8081),
    ("prometheus", "dbapp", 8083),
    ("prometheus", "kube-state-metrics", 8080),
    ("grafana", "prometheus", 9090),
    ("prometheus", "alertmanager", 9093),
    ("prometheus", "dispatcher", 8080),
]
DENIED = [
    ("webapp", "mlflow", 5000),
    ("data-job", "dbapp", 8082),  # dbapp's write port: only webapp
    ("prometheus", "dbapp", 8082),
    ("data-job", "mlflow", 5000),  # MLflow: only the trainers write, mlapp reads
    ("prometheus", "mlflow", 5000),
    ("dbapp", "mlflow", 5000),
    ("trainer", "dbapp", 8082),
    ("mlapp", "dbapp", 8082),
    ("dbapp", "mlapp", 8081),
    ("data-job", "mlapp", 8081),
    ("webapp", "prometheus", 9090),
    ("trainer", "webapp", 8080),
    ("webapp", "grafana", 3000),
    ("prometheus", "grafana", 3000),
    ("grafana", "webapp", 8080),
    ("grafana", "kube-state-metrics", 8080),
    ("webapp", "kube-state-metrics", 8080),
    ("kube-state-metrics", "prometheus", 9090),
    ("webapp", "alertmanager", 9093),
    ("grafana", "alertmanager", 9093),
    ("alertmanager", "webapp", 8080),
    ("alertmanager", "prometheus", 9090),
    ("alertmanager", "mlflow", 5000),
]


@pytest.mark.parametrize(("web", "ml"), k8s.PAIRS)
def test_network_policies_open_exactly_the_design_flows(web, ml):
    objs = k8s.render(web) + k8s.render(ml)
    policies = k8s.of_kind(objs, "NetworkPolicy")
    ingress_nginx = k8s.Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    kube_dns = k8s.Pod("kube-system", {"k8s-app": "kube-dns"})
    for src, dst, port in ALLOWED:
        assert k8s.connection_allowed(policies, k8s.pod_of(objs, src), k8s.pod_of(objs, dst), port), (src, dst, port)
    for src, dst, port in DENIED:
        assert not k8s.connection_allowed(policies, k8s.pod_of(objs, src), k8s.pod_of(objs, dst), port), (
            src,
            dst,
            port,
        )
    assert k8s.connection_allowed(policies, ingress_nginx, k8s.pod_of(objs, "webapp"), 8080)
    assert k8s.connection_allowed(policies, ingress_nginx, k8s.pod_of(objs, "mlflow"), 5000)
    internal_ports = {
        "mlapp": 8081,
        "dbapp": 8082,
        "prometheus": 9090,
        "grafana": 3000,
        "kube-state-metrics": 8080,
        "alertmanager": 9093,
    }
    for app, port in internal_ports.items():
        assert not k8s.connection_allowed(policies, ingress_nginx, k8s.pod_of(objs, app), port), app
    for obj, template in k8s.workloads(objs):
        pod = k8s.Pod(obj["metadata"]["namespace"], template["metadata"]["labels"])
        assert k8s.connection_allowed(policies, pod, kube_dns, 53, "UDP"), f"{k8s.name(obj)} cannot resolve names"


@pytest.mark.parametrize(("web", "ml"), k8s.PAIRS)
def test_every_url_in_a_configmap_is_a_defined_service_and_port(web, ml):
    objs = k8s.render(web) + k8s.render(ml)
    services = {(s["metadata"]["name"], s["metadata"]["namespace"]): s for s in k8s.of_kind(objs, "Service")}
    exported = {(e["metadata"]["name"], e["metadata"]["namespace"]) for e in k8s.of_kind(objs, "ServiceExport")}
    checked = 0
    for cm in k8s.of_kind(objs, "ConfigMap"):
        namespace = cm["metadata"]["namespace"]
        for key, value in (cm.get("data") or {}).items():
            for url in re.findall(r"https?://[^\s\"'<>,)]+", value):
                parts = urlsplit(url)
                host = parts.hostname or ""
                labels = host.split(".")
                whole_value = value.strip() == url
                if host.endswith(".svc.cluster.local"):
                    assert len(labels) == 5, f"{k8s.name(cm)}.{key}: {url} is not <service>.<namespace>.svc..."
                    svc_key = (labels[0], labels[1])
                elif host.endswith(".svc.clusterset.local"):  # a Service another fleet cluster exports
                    assert len(labels) == 5, f"{k8s.name(cm)}.{key}: {url} is not <service>.<namespace>.svc..."
                    svc_key = (labels[0], labels[1])
                    assert svc_key in exported, f"{k8s.name(cm)}.{key}: {url}: no ServiceExport {svc_key}"
                elif whole_value and len(labels) == 1:
                    svc_key = (host, namespace)
                    assert namespace == "ml" or host == "", f"{k8s.name(cm)}.{key}: {url} should use the full DNS name"
                elif whole_value:
                    raise AssertionError(f"{k8s.name(cm)}.{key}: {url} is not a cluster Service address")
                else:
                    continue  # a link inside a config file (e.g. a dashboard), not a service address
                assert svc_key in services, f"{k8s.name(cm)}.{key}: {url} names no Service {svc_key}"
                port = parts.port or (443 if parts.scheme == "https" else 80)
                exposed = {p["port"] for p in services[svc_key]["spec"]["ports"]}
                assert port in exposed, f"{k8s.name(cm)}.{key}: {url} port {port} not in {exposed}"
                checked += 1
    assert checked >= 4, "expected the service URLs of web-config and ml-config"


def test_in_cluster_mongodb_component_is_reachable_only_from_dbapp():
    objs = k8s.render(k8s.MONGODB_TARGET)
    (sts,) = k8s.of_kind(objs, "StatefulSet")
    assert sts["metadata"]["namespace"] == "web"
    policies = k8s.of_kind(objs, "NetworkPolicy")
    mongodb = k8s.pod_of(objs, "mongodb")
    assert k8s.connection_allowed(policies, k8s.pod_of(objs, "dbapp"), mongodb, 27017)
    for app in ("webapp", "mlapp", "prometheus"):
        assert not k8s.connection_allowed(policies, k8s.pod_of(objs, app), mongodb, 27017), app
    env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "secretKeyRef" in env["MONGO_INITDB_ROOT_PASSWORD"]["valueFrom"]
