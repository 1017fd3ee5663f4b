"""The failover controller as deployed in the config cluster (its component on the primary region's overlay; the
policy tests hold that render to prod's rules through k8s_support.FAILOVER_TARGET): one replica, a Role of exactly
get and patch on the HTTPRoute it drives, a configuration that names every region of the region list with the
host the region component gives it, and backendRef names that are the Gateway route's."""

from __future__ import annotations

import json

import pytest

from failover.config import DriverKind, FailoverConfig
from tests import k8s_support as k8s

pytestmark = pytest.mark.integration
PLAN = json.loads(k8s.REGIONS_FILE.read_text())


def objects() -> dict[str, dict]:
    return {k8s.name(o): o for o in k8s.render(k8s.FAILOVER_TARGET)}


def config_of(objs: dict[str, dict]) -> dict[str, str]:
    (deployment,) = [
        o for o in objs.values() if o["kind"] == "Deployment" and o["metadata"]["name"] == "failover-controller"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        name = source["configMapRef"]["name"]
        env.update(objs[f"ConfigMap/web/{name}"]["data"])
    env.update({e["name"]: e["value"] for e in container["env"] if "value" in e})
    return env


def test_one_replica_with_a_role_of_get_and_patch_on_the_route():
    objs = objects()
    deployment = objs["Deployment/web/failover-controller"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "failover-controller"
    (rule,) = objs["Role/web/failover-controller"]["rules"]
    assert rule == {
        "apiGroups": ["gateway.networking.k8s.io"],
        "resources": ["httproutes"],
        "resourceNames": ["webapp"],
        "verbs": ["get", "patch"],
    }
    binding = objs["RoleBinding/web/failover-controller"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "failover-controller", "namespace": "web"}]
    account = objs["ServiceAccount/web/failover-controller"]["metadata"]["annotations"]
    assert account["iam.gke.io/gcp-service-account"].startswith("hp-failover-controller@")
    policy = objs["NetworkPolicy/web/failover-controller"]["spec"]
    assert policy["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]


def test_its_configuration_names_every_region_and_the_routes_backends(tmp_path):
    env = config_of(objects())
    config = FailoverConfig.from_env({**env, "KUBERNETES_SERVICE_HOST": "10.0.0.1", "PLATFORM_DATA_DIR": str(tmp_path)})
    assert config.driver is DriverKind.GATEWAY and config.port == 8080 and config.host == "0.0.0.0"
    assert config.publish_events, "GCP_PROJECT from web-config: decisions go to region-events"
    expected = {r["name"]: (f"https://{r['name']}.{PLAN['web_domain']}/readyz",) for r in PLAN["regions"]}
    assert {r.name: r.probe_urls for r in config.regions} == expected
    assert config.primary == next(r["name"] for r in PLAN["regions"] if r["primary"])
    (route,) = [
        o for o in k8s.render(k8s.GATEWAY_OVERLAY) if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "webapp"
    ]
    assert config.gateway is not None and config.gateway.route == "webapp"
    assert route["metadata"]["namespace"] == config.gateway.kubernetes.namespace == "web"
    names = {ref["name"] for rule in route["spec"]["rules"] for ref in rule["backendRefs"]}
    assert set(config.gateway.backends.values()) == names
