"""The deployment rules of docs/architecture.md, checked on the rendered output of both bases and every overlay."""

from __future__ import annotations

import importlib
import re
from urllib.parse import urlsplit

import pytest
import yaml

from tests import k8s_support as k8s

SECRET_KEY_NAMES = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|API_KEY|PRIVATE_KEY|MONGO_URI|BACKEND_STORE_URI"
)
CREDENTIALS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
GSA = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")
APP_IMAGES = {"webapp", "mlapp", "dbapp", "mlflow-server", "data-job", "trainer"}

targets = pytest.mark.parametrize("target", k8s.TARGETS)
overlays = pytest.mark.parametrize("target", k8s.OVERLAYS)


def _serving(objs):
    return [d for d in k8s.of_kind(objs, "Deployment") if d["metadata"]["name"] in k8s.SERVING]


@targets
def test_every_container_has_requests_and_limits(target):
    missing = []
    for obj, template in k8s.workloads(k8s.render(target)):
        for c in k8s.containers(template["spec"]):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in res.get(kind, {}):
                        missing.append(f"{k8s.name(obj)}[{c['name']}] {kind}.{what}")
    assert not missing, missing


@targets
def test_serving_containers_probe_healthz_and_readyz(target):
    objs = k8s.render(target)
    serving = _serving(objs) if k8s.tree_of(target) == "k8s_web" else []
    assert len(serving) == (3 if k8s.tree_of(target) == "k8s_web" else 0)
    for dep in serving:
        spec = dep["spec"]["template"]["spec"]
        (main,) = [c for c in spec["containers"] if c["name"] == dep["metadata"]["name"]]
        port_names = {p["name"]: p["containerPort"] for p in main["ports"]}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = main.get(probe, {}).get("httpGet")
            assert get, f"{k8s.name(dep)} has no {probe}"
            assert get["path"] == path, f"{k8s.name(dep)} {probe} on {get['path']}"
            assert get["port"] in port_names or get["port"] in port_names.values()
    for dep in k8s.of_kind(objs, "Deployment"):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            if c.get("ports"):
                assert "livenessProbe" in c and "readinessProbe" in c, f"{k8s.name(dep)}[{c['name']}] unprobed"


@targets
def test_pods_run_non_root_read_only_without_capabilities(target):
    problems = []
    for obj, template in k8s.workloads(k8s.render(target)):
        spec = template["spec"]
        pod_sc = spec.get("securityContext", {})
        if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{k8s.name(obj)}: seccompProfile is not RuntimeDefault")
        tmp_volumes = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in k8s.containers(spec):
            sc = {**pod_sc, **c.get("securityContext", {})}
            where = f"{k8s.name(obj)}[{c['name']}]"
            if sc.get("runAsNonRoot") is not True or sc.get("runAsUser", 0) == 0:
                problems.append(f"{where}: not runAsNonRoot with a non-zero runAsUser")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem is writable")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []) or sc.get("capabilities", {}).get("add"):
                problems.append(f"{where}: capabilities not dropped (ALL)")
            if not any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in c.get("volumeMounts", [])):
                problems.append(f"{where}: no emptyDir at /tmp")
    assert not problems, "\n".join(problems)


@targets
def test_each_workload_has_its_own_workload_identity_ksa(target):
    objs = k8s.render(target)
    accounts = {sa["metadata"]["name"]: sa for sa in k8s.of_kind(objs, "ServiceAccount")}
    used = {}
    for obj, template in k8s.workloads(objs):
        sa_name = template["spec"].get("serviceAccountName", "default")
        assert sa_name != "default", f"{k8s.name(obj)} runs as the default ServiceAccount"
        assert sa_name in accounts, f"{k8s.name(obj)} uses ServiceAccount {sa_name} that the manifests do not define"
        gsa = accounts[sa_name]["metadata"].get("annotations", {}).get("iam.gke.io/gcp-service-account", "")
        assert GSA.match(gsa) or "PROJECT_ID" in gsa, f"ServiceAccount {sa_name}: bad annotation {gsa!r}"
        if target in k8s.OVERLAYS:
            assert GSA.match(gsa), f"{target}: ServiceAccount {sa_name} still has the placeholder: {gsa!r}"
        used.setdefault(sa_name, []).append(obj["metadata"]["name"])
    # one KSA per workload; the trainer CronJobs (one per family, same image and permissions) share one
    shared = {sa: names for sa, names in used.items() if len(names) > 1 and sa != "trainer"}
    assert not shared, f"ServiceAccounts shared between workloads: {shared}"


@targets
def test_images_are_pinned_and_overlays_use_a_registry(target):
    for obj, template in k8s.workloads(k8s.render(target)):
        for c in k8s.containers(template["spec"]):
            image = c["image"]
            last = image.rsplit("/", 1)[-1]
            assert ":" in last or "@sha256:" in image, f"{k8s.name(obj)}[{c['name']}] image {image} has no tag"
            assert not image.endswith(":latest"), f"{k8s.name(obj)}[{c['name']}] uses :latest"
            if target in k8s.OVERLAYS and last.split(":")[0] in APP_IMAGES:
                assert re.match(r"^[a-z0-9-]+-docker\.pkg\.dev/[a-z0-9-]+/[a-z0-9-]+/", image), image


@targets
def test_no_secrets_in_configmaps_or_manifests(target):
    objs = k8s.render(target)
    assert not k8s.of_kind(objs, "Secret"), "Secrets are created by hand (README), never committed"
    for cm in k8s.of_kind(objs, "ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            # a boolean switch such as WEBAPP_REQUIRE_SECRET=true is not a secret
            if value.strip().lower() not in {"true", "false"}:
                assert not SECRET_KEY_NAMES.search(key.upper()), f"{k8s.name(cm)} holds secret-looking key {key}"
            assert not CREDENTIALS_IN_URL.search(value), f"{k8s.name(cm)}.{key} holds a URL with credentials"
    for obj, template in k8s.workloads(objs):
        for c in k8s.containers(template["spec"]):
            for env in c.get("env", []):
                if SECRET_KEY_NAMES.search(env["name"]):
                    assert "secretKeyRef" in env.get("valueFrom", {}), (
                        f"{k8s.name(obj)} {env['name']} not from a Secret"
                    )


@targets
def test_serving_deployments_roll_one_at_a_time_with_hpa_and_pdb(target):
    objs = k8s.render(target)
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in k8s.of_kind(objs, "HorizontalPodAutoscaler")}
    pdbs = k8s.of_kind(objs, "PodDisruptionBudget")
    is_prod = "/dev" not in target
    for dep in _serving(objs):
        dep_name = dep["metadata"]["name"]
        strategy = dep["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}, dep_name
        hpa = hpas.get(dep_name)
        assert hpa and hpa["apiVersion"] == "autoscaling/v2", f"no autoscaling/v2 HPA for {dep_name}"
        (metric,) = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
        assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["averageUtilization"] == 70
        if is_prod:  # seed 001: 3-10 replicas
            assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10), dep_name
        else:
            assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if k8s.selector_matches(p["spec"]["selector"], labels)]
        assert covering, f"no PodDisruptionBudget covers {dep_name}"
        for pdb in covering:
            assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable") == 1
        terms = dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        assert any(t["podAffinityTerm"]["topologyKey"] == "topology.kubernetes.io/zone" for t in terms)


@targets
def test_services_are_cluster_internal_and_only_webapp_and_mlflow_have_ingresses(target):
    objs = k8s.render(target)
    for svc in k8s.of_kind(objs, "Service"):
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", f"{k8s.name(svc)} is {svc['spec']['type']}"
    backends = {}
    for ing in k8s.of_kind(objs, "Ingress"):
        ann = ing["metadata"].get("annotations", {})
        assert ing["spec"].get("tls"), f"{k8s.name(ing)} has no TLS"
        assert ann.get("cert-manager.io/cluster-issuer"), f"{k8s.name(ing)} has no cert-manager issuer"
        for rule in ing["spec"]["rules"]:
            assert rule["host"] in {h for t in ing["spec"]["tls"] for h in t["hosts"]}
            for path in rule["http"]["paths"]:
                backends[path["backend"]["service"]["name"]] = ann
    if k8s.tree_of(target) == "k8s_web":
        assert set(backends) == {"webapp"}
        ann = backends["webapp"]
        assert ann.get("nginx.ingress.kubernetes.io/proxy-body-size"), "no request-size limit"
        assert ann.get("nginx.ingress.kubernetes.io/limit-rps"), "no rate limit"
    else:
        assert set(backends) == {"mlflow"}
        ann = backends["mlflow"]
        assert ann.get("nginx.ingress.kubernetes.io/auth-type") == "basic"
        assert ann.get("nginx.ingress.kubernetes.io/auth-secret"), "MLflow ingress without authentication"


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
    internal_ports = {"mlapp": 8081, "dbapp": 8082, "prometheus": 9090, "grafana": 3000, "kube-state-metrics": 8080}
    for app, port in internal_ports.items():
        assert not k8s.connection_allowed(policies, ingress_nginx, k8s.pod_of(objs, app), port), app
    for obj, template in k8s.workloads(objs):
        pod = k8s.Pod(obj["metadata"]["namespace"], template["metadata"]["labels"])
        assert k8s.connection_allowed(policies, pod, kube_dns, 53, "UDP"), f"{k8s.name(obj)} cannot resolve names"


@pytest.mark.parametrize(("web", "ml"), k8s.PAIRS)
def test_every_url_in_a_configmap_is_a_defined_service_and_port(web, ml):
    objs = k8s.render(web) + k8s.render(ml)
    services = {(s["metadata"]["name"], s["metadata"]["namespace"]): s for s in k8s.of_kind(objs, "Service")}
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
    for dep in _serving(objs):
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


@targets
def test_ml_jobs_data_job_single_writer_and_one_trainer_per_family(target):
    if k8s.tree_of(target) != "k8s_ml":
        return
    objs = k8s.render(target)
    cronjobs = {c["metadata"]["name"]: c for c in k8s.of_kind(objs, "CronJob")}
    assert cronjobs["data-job"]["spec"]["concurrencyPolicy"] == "Forbid"
    (ml_config,) = [c for c in k8s.of_kind(objs, "ConfigMap") if c["metadata"]["name"] == "ml-config"]
    assert int(ml_config["data"]["BATCH_SIZE"]) > 0
    assert 0 < float(ml_config["data"]["TRAIN_TEST_SPLIT"]) < 1
    families = sorted(
        p.name
        for p in (k8s.REPO / "models").iterdir()
        if p.is_dir() and p.name not in {"src"} and p.name[0] not in "._"
    )
    trained = []
    for cj in cronjobs.values():
        (c,) = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        if c.get("command", [])[:1] == ["train"]:
            assert c["command"][1] == "--family" and len(c["command"]) == 3, c["command"]
            trained.append(c["command"][2])
    assert sorted(trained) == families, "one trainer CronJob per model family folder"
    (setup,) = [j for j in k8s.of_kind(objs, "Job") if j["metadata"]["name"] == "pubsub-setup"]
    # the Job runs pubsub/pubsub_setup.py from its generated ConfigMap (tests/unit/test_terraform_pubsub.py)
    command = setup["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[0] == "python" and command[1].endswith("/pubsub_setup.py")
    (spec_cm,) = [c for c in k8s.of_kind(objs, "ConfigMap") if c["metadata"]["name"].startswith("pubsub-setup")]
    script = spec_cm["data"]["pubsub_setup.py"]
    compile(script, "pubsub-setup", "exec")
    assert "create_subscription" in script and "dead_letter_policy" in script and "retry_policy" in script
    for module, names in re.findall(r"from (common\.\w+) import ([\w, ]+)", script):
        imported = importlib.import_module(module)
        for attr in names.split(","):
            assert hasattr(imported, attr.strip()), f"{module} has no {attr.strip()}"
    backup = cronjobs["mlflow-db-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert any("pg_dump" in " ".join(c.get("command", [])) for c in k8s.containers(backup))


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
