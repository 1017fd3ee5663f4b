"""scripts/render_region_overlays.py: the committed region overlays, Gateway routes and MLflow's policy for the other
regions are exactly what it writes from infra/terraform/regions.auto.tfvars.json, it refuses the lists Terraform's
validations refuse, it adds and removes overlays as regions come and go, and its address plan (scripts/region_plan.py)
is the one infra/terraform/regions.tf derives. (Rendering the overlays: tests/integration/test_k8s_regions.py.)"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests import terraform_support as tf

REPO = Path(__file__).resolve().parents[2]


def _module(name: str) -> ModuleType:
    """A module of scripts/, loaded as the script itself runs it: scripts/ first on the path (its sibling imports)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module; the script imports region_plan
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return module


region_plan = _module("region_plan")
script = _module("render_region_overlays")


def region(name: str, gcp_region: str, primary: bool = False, index: int = 0) -> dict[str, Any]:
    return {"name": name, "region": gcp_region, "primary": primary, "network_index": index}


def test_the_committed_files_are_what_the_script_writes():
    plan = script.load_plan()
    assert script.differences(plan) == [], "run: .venv/bin/python scripts/render_region_overlays.py"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render_region_overlays.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_overlay_is_prod_plus_the_region_component_with_the_regions_values():
    plan = script.load_plan()
    files = script.render(plan)
    assert plan.secondaries, "the committed regions have a secondary"
    for r in plan.regions:
        text = files[script.REGION_OVERLAYS / r.name / "kustomization.yaml"]
        # the primary runs the failover controller; the others read MLflow in the primary's cluster
        other = "failover-controller" if r.primary else "mlflow-clusterset"
        assert "resources:\n  - ../../prod\n" in text
        assert f"components:\n  - ../../../components/{other}\n  - ../../../components/region\n" in text
        literals = ["NAME=" + r.name, f"HOST={r.name}.{plan.web_domain}"]
        literals += [] if r.primary else [f"PRIMARY_PODS={plan.primary.pods}"]
        assert "    literals:\n" + "".join(f"      - {value}\n" for value in literals) + "    options:\n" in text
        assert text.startswith(script.HEADER)
    routes = files[script.ROUTES_FILE]
    for r in plan.regions:
        weight = script.PRIMARY_WEIGHT if r.primary else 0
        assert f"          name: webapp-{r.name}\n          port: 8080\n          weight: {weight}\n" in routes
        assert routes.count(f"\n    name: webapp-{r.name}\n") == 1, "one health check targets the region's import"


BAD = [
    ({"regions": []}, "between 1 and 16"),
    ({"regions": [region("a1", "europe-west1")]}, "exactly one region must be primary"),
    ({"regions": [region("a1", "europe-west1", True), region("b1", "europe-west4", True, 1)]}, "exactly one"),
    ({"regions": [region("a1", "europe-west1", True), region("a1", "europe-west4", index=1)]}, "name values"),
    ({"regions": [region("a1", "europe-west1", True), region("b1", "europe-west1", index=1)]}, "region values"),
    ({"regions": [region("a1", "europe-west1", True), region("b1", "europe-west4")]}, "network_index values"),
    ({"regions": [region("Region_A", "europe-west1", True)]}, "DNS label"),
    ({"regions": [region("a1", "australia-southeast1", True)]}, "Europe, North America or Asia"),
    ({"regions": [region("a1", "europe-west1", True, 16)]}, "0 to 15"),
    ({"regions": [region("a1", "europe-west1", True, True)]}, "0 to 15"),
    ({"regions": [{"name": "a1", "region": "europe-west1", "primary": True}]}, "exactly name, region"),
    ({"regions": [region("a1", "europe-west1", True)], "web_domain": "not a host"}, "web_domain"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_the_script_refuses_what_terraform_refuses(data, message):
    data = {"web_domain": "house-price.example.com", **data}
    with pytest.raises(region_plan.RegionsInvalid, match=message):
        region_plan.parse_plan(data)


def test_the_script_and_terraform_state_the_same_patterns():
    hcl = (REPO / "infra" / "terraform" / "regions.tf").read_text()
    assert f'"{region_plan.NAME.pattern}"' in hcl and f'"{region_plan.GCP_REGION.pattern}"' in hcl
    assert '"{}"'.format(region_plan.DOMAIN.pattern.replace("\\", "\\\\")) in hcl


def test_the_address_plan_is_the_one_regions_tf_derives():
    """local.network_ranges: one `kind = cidrsubnet("<base>", <newbits>, r.network_index)` per kind, the same bases
    and newbits as region_plan.ADDRESS_PLAN (the pod ranges in the NetworkPolicies come from there)."""
    expression = tf.local("network_ranges")
    assert expression.startswith("${{for r in var.regions : r.name => {"), expression
    derived = {
        kind: (base, int(newbits))
        for kind, base, newbits in re.findall(r'(\w+) = cidrsubnet\("([^"]+)", (\d+), r\.network_index\)', expression)
    }
    assert derived == region_plan.ADDRESS_PLAN
    assert expression.count("cidrsubnet(") == len(derived), "every range is a cidrsubnet of network_index"


@pytest.mark.parametrize(
    ("prefix", "newbits", "netnum", "expected"),
    [
        ("10.64.0.0/10", 4, 0, "10.64.0.0/14"),
        ("10.64.0.0/10", 4, 1, "10.68.0.0/14"),
        ("10.64.0.0/10", 4, 15, "10.124.0.0/14"),
        ("10.10.0.0/16", 4, 3, "10.10.48.0/20"),
        ("10.11.0.0/16", 4, 15, "10.11.240.0/20"),
        ("10.0.0.0/8", 8, 255, "10.255.0.0/16"),
    ],
)
def test_cidrsubnet_is_terraforms(prefix, newbits, netnum, expected):
    assert region_plan.cidrsubnet(prefix, newbits, netnum) == expected


def test_cidrsubnet_refuses_what_does_not_fit():
    for args in (("10.64.0.0/10", 4, 16), ("10.64.0.0/10", 4, -1), ("10.0.0.0/30", 3, 0)):
        with pytest.raises(ValueError, match="no such subnet"):
            region_plan.cidrsubnet(*args)


def test_every_slot_has_its_own_ranges():
    plan = region_plan.parse_plan(
        {
            "regions": [region(f"r{i}", f"us-east{i + 1}", i == 0, i) for i in range(16)],
            "web_domain": "house-price.example.com",
        }
    )
    ranges = [ipaddress.ip_network(r.network_range(kind)) for r in plan.regions for kind in region_plan.ADDRESS_PLAN]
    assert len(ranges) == 48
    assert not [(a, b) for i, a in enumerate(ranges) for b in ranges[i + 1 :] if a.overlaps(b)]
    assert {r.pods for r in plan.regions} == {str(n) for n in ipaddress.ip_network("10.64.0.0/10").subnets(4)}


def mlflow_policy(plan: Any) -> dict[str, Any]:
    text = script.render(plan)[script.MLFLOW_POLICY_FILE]
    assert text.startswith(script.HEADER)
    policy: dict[str, Any] = yaml.safe_load(text)
    assert (policy["kind"], policy["metadata"]["name"], policy["metadata"]["namespace"]) == (
        "NetworkPolicy",
        "mlflow-from-other-regions",
        "ml",
    )
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "mlflow"}}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    return policy


def test_mlflow_lets_in_the_other_regions_pod_ranges_on_its_port_only():
    plan = script.load_plan()
    (rule,) = mlflow_policy(plan)["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5000}]
    assert [peer["ipBlock"] for peer in rule["from"]] == [{"cidr": r.pods} for r in plan.secondaries]
    assert plan.primary.pods not in {peer["ipBlock"]["cidr"] for peer in rule["from"]}
    three = {
        "regions": [
            region("eu-a", "europe-west1", index=4),
            region("eu-b", "europe-west4", True, 2),
            region("eu-c", "europe-west3", index=9),
        ],
        "web_domain": "shop.example.org",
    }
    (rule,) = mlflow_policy(region_plan.parse_plan(three))["spec"]["ingress"]
    assert [peer["ipBlock"]["cidr"] for peer in rule["from"]] == ["10.80.0.0/14", "10.100.0.0/14"]
    secondary = script.render(region_plan.parse_plan(three))[script.REGION_OVERLAYS / "eu-c" / "kustomization.yaml"]
    assert "      - PRIMARY_PODS=10.72.0.0/14\n" in secondary


def test_with_one_region_mlflow_lets_in_nobody_more():
    plan = region_plan.parse_plan(
        {"regions": [region("a1", "europe-west1", True)], "web_domain": "house-price.example.com"}
    )
    assert mlflow_policy(plan)["spec"]["ingress"] == []  # an empty list allows nothing; a missing one, everything


def test_regions_come_and_go(tmp_path):
    (tmp_path / "infra" / "terraform").mkdir(parents=True)
    shutil.copytree(REPO / "k8s_web" / "overlays" / "gateway", tmp_path / "k8s_web" / "overlays" / "gateway")
    regions = [region("eu-a", "europe-west1", True), region("eu-b", "europe-west4", index=1)]
    regions.append(region("eu-c", "europe-west3", index=2))

    def state(listed: list[dict[str, Any]]) -> Any:
        values = {"regions": listed, "web_domain": "shop.example.org"}
        (tmp_path / script.REGIONS_FILE).write_text(json.dumps(values))
        return script.load_plan(tmp_path)

    plan = state(regions)
    missing = {f"k8s_web/overlays/regions/{name}/kustomization.yaml: missing" for name in ("eu-a", "eu-b", "eu-c")}
    missing.add(f"{script.MLFLOW_POLICY_FILE}: missing")
    assert set(script.differences(plan, tmp_path)) == missing | {f"{script.ROUTES_FILE}: differs"}
    script.write(plan, tmp_path)
    assert script.differences(plan, tmp_path) == []
    assert "    - shop.example.org\n" in (tmp_path / script.ROUTES_FILE).read_text()
    assert "10.72.0.0/14" in (tmp_path / script.MLFLOW_POLICY_FILE).read_text()  # eu-c's pods
    plan = state(regions[:2])
    assert script.differences(plan, tmp_path) == [
        f"{script.ROUTES_FILE}: differs",
        f"{script.MLFLOW_POLICY_FILE}: differs",
        "k8s_web/overlays/regions/eu-c: a region no longer listed",
    ]
    script.write(plan, tmp_path)
    assert script.differences(plan, tmp_path) == []
    assert sorted(p.name for p in (tmp_path / script.REGION_OVERLAYS).iterdir()) == ["eu-a", "eu-b"]
