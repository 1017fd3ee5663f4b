"""The deployment rules of docs/architecture.md, checked on the rendered output of both bases and every overlay."""

from __future__ import annotations

import importlib
import re

import pytest

from tests import k8s_support as k8s

SECRET_KEY_NAMES = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|API_KEY|PRIVATE_KEY|MONGO_URI|BACKEND_STORE_URI"
)
CREDENTIALS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
GSA = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")
APP_IMAGES = {"webapp", "mlapp", "dbapp", "mlflow-server", "data-job", "trainer"}

targets = pytest.mark.parametrize("target", k8s.TARGETS)
overlays = pytest.mark.parametrize("target", k8s.OVERLAYS)


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
    serving = k8s.serving_deployments(objs) if k8s.tree_of(target) == "k8s_web" else []
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
    for dep in k8s.serving_deployments(objs):
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
