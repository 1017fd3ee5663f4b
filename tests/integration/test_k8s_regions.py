"""The per-region web overlays and the multi-cluster Gateway, rendered with `kubectl kustomize`.

Each region overlay is the prod overlay plus what differs per region and nothing else: its region label on every
object and pod, REGION in web-config, its own Ingress host, the Service and ServiceExport webapp-<region> and the
NetworkPolicy that lets Google's load balancers reach webapp; in a region other than the primary, mlapp reads MLflow
in the primary's cluster (MLFLOW_TRACKING_URI at the fleet-wide name, egress to the primary's pod range on 5000, the
namespace ml that Multi-cluster Services imports into), and the primary's ml tree exports MLflow and lets the other
regions' pod ranges in. (The policy tests hold the region overlays to prod's rules: they are in
k8s_support.TARGETS.) The Gateway overlay has one weighted backend and one health check per region, and names the
address and certificate Terraform makes. kubernetes-validate has no schema for the Gateway API and GKE's
multi-cluster kinds, so their shape is checked here.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
from mlflow.server.security_utils import is_allowed_host_header

from mlflow_server.config import ServerConfig
from tests import k8s_support as k8s
from tests import terraform_support as tf

pytestmark = pytest.mark.integration

LABEL = "topology.house-price/region"
PLAN = json.loads(k8s.REGIONS_FILE.read_text())
REGIONS = {r["name"]: r for r in PLAN["regions"]}
GFE_RANGES = {"35.191.0.0/16", "130.211.0.0/22"}
IN_CLUSTER_MLFLOW = "http://mlflow.ml.svc.cluster.local:5000"
FLEET_MLFLOW = "http://mlflow.ml.svc.clusterset.local:5000"
ML_PROD = "k8s_ml/overlays/prod"


def region_of(target: str) -> str:
    return target.rsplit("/", 1)[1]


def test_every_region_has_an_overlay_and_the_web_host_is_terraforms():
    assert list(REGIONS) == k8s.REGIONS and len(k8s.REGION_OVERLAYS) == len(REGIONS) >= 2
    (ingress,) = k8s.of_kind(k8s.render("k8s_web/overlays/prod"), "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == PLAN["web_domain"], "prod's host is web_domain (the certificate's)"


@pytest.mark.parametrize("target", k8s.REGION_OVERLAYS)
def test_every_object_and_pod_of_a_region_carries_its_region(target):
    name = region_of(target)
    objs = k8s.render(target)
    unlabelled = [k8s.name(o) for o in objs if o["metadata"].get("labels", {}).get(LABEL) != name]
    assert not unlabelled, f"objects without {LABEL}={name}: {unlabelled}"
    for obj, template in k8s.workloads(objs):
        assert template["metadata"]["labels"].get(LABEL) == name, f"{k8s.name(obj)}'s pods"
    (config,) = [c for c in k8s.of_kind(objs, "ConfigMap") if c["metadata"]["name"] == "web-config"]
    assert config["data"]["REGION"] == name
    (ingress,) = k8s.of_kind(objs, "Ingress")
    host = f"{name}.{PLAN['web_domain']}"
    assert ingress["spec"]["rules"][0]["host"] == host and ingress["spec"]["tls"][0]["hosts"] == [host]


@pytest.mark.parametrize("target", k8s.REGION_OVERLAYS)
def test_a_region_exports_its_webapp_and_lets_only_googles_load_balancers_in(target):
    name = region_of(target)
    objs = k8s.render(target)
    services = {s["metadata"]["name"]: s for s in k8s.of_kind(objs, "Service")}
    exported = services[f"webapp-{name}"]
    assert exported["spec"]["selector"] == services["webapp"]["spec"]["selector"] == {"app": "webapp"}
    assert exported["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]
    (export,) = k8s.of_kind(objs, "ServiceExport")
    assert export["apiVersion"] == "net.gke.io/v1" and "spec" not in export
    assert (export["metadata"]["name"], export["metadata"]["namespace"]) == (f"webapp-{name}", "web")
    from_outside = [
        (p, rule)
        for p in k8s.of_kind(objs, "NetworkPolicy")
        for rule in p["spec"].get("ingress") or []
        if any("ipBlock" in peer for peer in rule.get("from", []))
    ]
    assert len(from_outside) == 1, [p["metadata"]["name"] for p, _ in from_outside]
    policy, rule = from_outside[0]
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "webapp"}}
    assert {peer["ipBlock"]["cidr"] for peer in rule["from"]} == GFE_RANGES
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]


def _without_region(obj: dict, name: str) -> dict:
    obj = copy.deepcopy(obj)
    obj["metadata"].get("labels", {}).pop(LABEL, None)
    if obj["kind"] in k8s.WORKLOAD_KINDS:
        k8s.pod_template(obj)["metadata"]["labels"].pop(LABEL, None)
    if obj["metadata"]["name"] == "web-config":
        assert obj["data"].pop("REGION") == name
        if not REGIONS[name]["primary"]:
            assert obj["data"]["MLFLOW_TRACKING_URI"] == FLEET_MLFLOW
            obj["data"]["MLFLOW_TRACKING_URI"] = IN_CLUSTER_MLFLOW
    if obj["kind"] == "Ingress":
        prod_host = PLAN["web_domain"]
        obj["spec"]["rules"][0]["host"] = prod_host
        obj["spec"]["tls"][0]["hosts"] = [prod_host]
    return obj


@pytest.mark.parametrize("target", k8s.REGION_OVERLAYS)
def test_a_region_is_prod_plus_its_region_and_nothing_else(target):
    name = region_of(target)
    prod = {k8s.name(o): o for o in k8s.render("k8s_web/overlays/prod")}
    region = {k8s.name(o): _without_region(o, name) for o in k8s.render(target)}
    # the config cluster (the primary's) also runs the failover controller: its objects are all named failover-*
    added = sorted(key for key in set(region) - set(prod) if not key.split("/")[-1].startswith("failover-"))
    controller = sorted(key for key in set(region) - set(prod) if key.split("/")[-1].startswith("failover-"))
    assert len(controller) == (6 if target == k8s.FAILOVER_TARGET else 0), controller
    # the other regions read MLflow in the primary's cluster
    fleet_mlflow = [] if REGIONS[name]["primary"] else ["Namespace//ml", "NetworkPolicy/web/mlapp-to-primary-mlflow"]
    assert added == sorted(
        [
            "NetworkPolicy/web/webapp-from-google-load-balancers",
            f"Service/web/webapp-{name}",
            f"ServiceExport/web/webapp-{name}",
            *fleet_mlflow,
        ]
    )
    assert not set(prod) - set(region), "a region drops none of prod's objects"
    changed = [key for key in prod if prod[key] != region[key]]
    assert not changed, f"differ from prod beyond the region's values: {changed}"


def _addresses(cidr: str) -> list[str]:
    """The first and the last pod address of a range."""
    network = ipaddress.ip_network(cidr)
    return [str(network.network_address + 1), str(network.broadcast_address - 1)]


@pytest.mark.parametrize("target", k8s.REGION_OVERLAYS)
def test_mlapp_reads_mlflow_in_the_primarys_cluster(target):
    name = region_of(target)
    plan = k8s.region_plan().load_plan()
    objs = k8s.render(target)
    (config,) = [c for c in k8s.of_kind(objs, "ConfigMap") if c["metadata"]["name"] == "web-config"]
    policies = {p["metadata"]["name"]: p for p in k8s.of_kind(objs, "NetworkPolicy")}
    namespaces = {n["metadata"]["name"]: n for n in k8s.of_kind(objs, "Namespace")}
    if REGIONS[name]["primary"]:  # MLflow runs in this cluster
        assert config["data"]["MLFLOW_TRACKING_URI"] == IN_CLUSTER_MLFLOW
        assert "mlapp-to-primary-mlflow" not in policies and set(namespaces) == {"web"}
        return
    assert config["data"]["MLFLOW_TRACKING_URI"] == FLEET_MLFLOW
    # Multi-cluster Services imports ml/mlflow only where the namespace ml exists; it is restricted like k8s_ml's
    (ml_namespace,) = k8s.of_kind(k8s.render(ML_PROD), "Namespace")
    labels = namespaces["ml"]["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k.startswith("pod-security")} == {
        k: v for k, v in ml_namespace["metadata"]["labels"].items() if k.startswith("pod-security")
    }
    spec = policies["mlapp-to-primary-mlflow"]["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "mlapp"}} and spec["policyTypes"] == ["Egress"]
    assert spec["egress"] == [
        {"to": [{"ipBlock": {"cidr": plan.primary.pods}}], "ports": [{"protocol": "TCP", "port": 5000}]}
    ]
    listed = list(policies.values())
    mlapp = k8s.pod_of(objs, "mlapp")
    for address in _addresses(plan.primary.pods):
        assert k8s.address_allowed(listed, "Egress", mlapp, address, 5000), address
        assert not k8s.address_allowed(listed, "Egress", mlapp, address, 5001), "MLflow's port only"
        for app in ("webapp", "dbapp", "prometheus", "grafana"):
            assert not k8s.address_allowed(listed, "Egress", k8s.pod_of(objs, app), address, 5000), app
    for other in plan.regions:
        if not other.primary:
            for address in _addresses(other.pods):
                assert not k8s.address_allowed(listed, "Egress", mlapp, address, 5000), f"{other.name}'s pods"


def test_the_primary_exports_mlflow_and_lets_in_the_other_regions_pods_only():
    plan = k8s.region_plan().load_plan()
    objs = k8s.render(ML_PROD)
    (export,) = k8s.of_kind(objs, "ServiceExport")
    assert export["apiVersion"] == "net.gke.io/v1" and "spec" not in export
    assert (export["metadata"]["name"], export["metadata"]["namespace"]) == ("mlflow", "ml")
    (service,) = [s for s in k8s.of_kind(objs, "Service") if s["metadata"]["name"] == "mlflow"]
    assert service["spec"]["type"] == "ClusterIP" and [p["port"] for p in service["spec"]["ports"]] == [5000]
    policies = k8s.of_kind(objs, "NetworkPolicy")
    (policy,) = [p for p in policies if p["metadata"]["name"] == "mlflow-from-other-regions"]
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "mlflow"}}
    (rule,) = policy["spec"]["ingress"]
    assert sorted(peer["ipBlock"]["cidr"] for peer in rule["from"]) == sorted(r.pods for r in plan.secondaries)
    assert rule["ports"] == [{"protocol": "TCP", "port": 5000}]
    mlflow, dispatcher = k8s.pod_of(objs, "mlflow"), k8s.pod_of(objs, "dispatcher")
    for other in plan.secondaries:
        for address in _addresses(other.pods):
            assert k8s.address_allowed(policies, "Ingress", mlflow, address, 5000), (other.name, address)
            assert not k8s.address_allowed(policies, "Ingress", dispatcher, address, 8080), "MLflow only"
    # nothing else from outside the cluster: not the primary's own pod range by address, nor its nodes
    for address in [*_addresses(plan.primary.pods), *_addresses(plan.primary.network_range("nodes"))]:
        assert not k8s.address_allowed(policies, "Ingress", mlflow, address, 5000), address


def test_mlflow_accepts_the_host_every_region_calls_it_by():
    """MLflow answers 403 to a Host header it does not allow (DNS-rebinding protection): the prod overlay allows
    the fleet-wide name, which the defaults do not."""
    (config,) = [c for c in k8s.of_kind(k8s.render(ML_PROD), "ConfigMap") if c["metadata"]["name"] == "mlflow-config"]
    allowed = ServerConfig.from_env(config["data"]).allowed_hosts.split(",")
    assert not is_allowed_host_header(ServerConfig.from_env({}).allowed_hosts.split(","), urlsplit(FLEET_MLFLOW).netloc)
    for target in k8s.REGION_OVERLAYS:
        objs = k8s.render(target)
        (web_config,) = [c for c in k8s.of_kind(objs, "ConfigMap") if c["metadata"]["name"] == "web-config"]
        host = urlsplit(web_config["data"]["MLFLOW_TRACKING_URI"]).netloc
        assert is_allowed_host_header(allowed, host), (target, host)


def gateway_objects() -> dict[str, dict]:
    return {k8s.name(o): o for o in k8s.render(k8s.GATEWAY_OVERLAY)}


def test_the_gateway_objects_have_their_shape_where_no_schema_knows_them():
    objs = gateway_objects()
    kinds = {o["kind"] for o in objs.values()}
    assert kinds == {"Gateway", "HTTPRoute", "HealthCheckPolicy"}
    unvalidated = []
    for key, obj in objs.items():
        assert obj["metadata"]["namespace"] == "web", key
        assert obj["apiVersion"] in {"gateway.networking.k8s.io/v1", "networking.gke.io/v1"}, key
        try:
            kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unvalidated.append(key)
    print(f"no schema in kubernetes-validate (Gateway API / GKE custom resources), shape checked here: {unvalidated}")
    gateway = objs["Gateway/web/webapp"]["spec"]
    assert gateway["gatewayClassName"] == "gke-l7-global-external-managed-mc"
    listeners = {listener["name"]: listener for listener in gateway["listeners"]}
    assert (listeners["https"]["protocol"], listeners["https"]["port"]) == ("HTTPS", 443)
    assert (listeners["http"]["protocol"], listeners["http"]["port"]) == ("HTTP", 80)
    # the address and certificate are Terraform's
    address = tf.resource("google_compute_global_address", "gateway")["name"]
    certificate = tf.resource("google_compute_managed_ssl_certificate", "gateway")
    assert gateway["addresses"] == [{"type": "NamedAddress", "value": address}]
    tls = listeners["https"]["tls"]
    assert tls["mode"] == "Terminate" and tls["options"] == {"networking.gke.io/pre-shared-certs": certificate["name"]}
    assert tf.block(certificate, "managed")["domains"] == ["${var.web_domain}"]
    redirect = objs["HTTPRoute/web/webapp-https-redirect"]["spec"]
    assert redirect["parentRefs"] == [{"kind": "Gateway", "name": "webapp", "sectionName": "http"}]
    (rule,) = redirect["rules"]
    assert rule["filters"] == [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]


def test_the_route_has_one_weighted_backend_and_one_health_check_per_region():
    objs = gateway_objects()
    route = objs["HTTPRoute/web/webapp"]["spec"]
    assert route["parentRefs"] == [{"kind": "Gateway", "name": "webapp", "sectionName": "https"}]
    assert route["hostnames"] == [PLAN["web_domain"]]
    (rule,) = route["rules"]
    backends = {b["name"]: b for b in rule["backendRefs"]}
    assert len(backends) == len(rule["backendRefs"]) == len(REGIONS)
    for name, region in REGIONS.items():
        backend = backends[f"webapp-{name}"]
        assert (backend["group"], backend["kind"], backend["port"]) == ("net.gke.io", "ServiceImport", 8080)
        assert backend["weight"] == (100 if region["primary"] else 0), name
        exported = {
            e["metadata"]["name"] for e in k8s.of_kind(k8s.render(f"k8s_web/overlays/regions/{name}"), "ServiceExport")
        }
        assert backend["name"] in exported, f"{name} exports no Service {backend['name']}"
        check = objs[f"HealthCheckPolicy/web/webapp-{name}"]["spec"]
        assert check["targetRef"] == {"group": "net.gke.io", "kind": "ServiceImport", "name": backend["name"]}
        config = check["default"]["config"]
        assert config["type"] == "HTTP" and config["httpHealthCheck"]["requestPath"] == "/readyz"
        assert check["default"]["checkIntervalSec"] * check["default"]["unhealthyThreshold"] <= 10
    assert len(k8s.of_kind(list(objs.values()), "HealthCheckPolicy")) == len(REGIONS)
    # the health check asks what webapp's own readiness probe asks
    (webapp,) = [
        d for d in k8s.serving_deployments(k8s.render("k8s_web/overlays/prod")) if d["metadata"]["name"] == "webapp"
    ]
    assert webapp["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
