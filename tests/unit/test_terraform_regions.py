"""infra/terraform across regions: the regions variable and its validation, one cluster, node pool, subnet, NAT and
fleet membership per region, the multi-cluster Gateway's config cluster, the MLflow database's read replicas
outside the home region, buckets that are never single-region, address ranges that never overlap.

The HCL is parsed with python-hcl2 (tests/terraform_support.py). regions.tf declares no resource, so `terraform
console` evaluates its validations and locals without any provider; those tests are skipped, saying why, where no
terraform binary is installed.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import terraform_support as tf

REGIONS_FILE = tf.TF_DIR / "regions.auto.tfvars.json"
COMMITTED = json.loads(REGIONS_FILE.read_text())
EXPRESSION = (
    "jsonencode({home = local.home_region, secondary = [for r in values(local.secondary_regions) : r.region],"
    " ranges = local.network_ranges, location = local.bucket_location, data_locations = local.bucket_data_locations})"
)


def region(name: str, gcp_region: str, primary: bool = False, index: int = 0) -> dict[str, Any]:
    return {"name": name, "region": gcp_region, "primary": primary, "network_index": index}


def evaluate(tmp_path: Path, regions: list[dict[str, Any]], web_domain: str = "house-price.example.com") -> str:
    """What `terraform console` prints for EXPRESSION with regions.tf and these values (errors included)."""
    terraform = shutil.which("terraform")
    if terraform is None:
        print("no terraform binary: the evaluation of regions.tf is skipped (the parse tests still run)")
        pytest.skip("no terraform binary to evaluate regions.tf")
    shutil.copy(tf.TF_DIR / "regions.tf", tmp_path / "regions.tf")
    values = {"regions": regions, "web_domain": web_domain}
    (tmp_path / "regions.auto.tfvars.json").write_text(json.dumps(values))
    proc = subprocess.run(
        [terraform, "console", "-no-color"],
        input=EXPRESSION,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"},
        timeout=120,
        check=False,
    )
    return proc.stdout + proc.stderr


def evaluated(tmp_path: Path, regions: list[dict[str, Any]]) -> dict[str, Any]:
    output = evaluate(tmp_path, regions)
    assert "Error" not in output, output
    last = output.strip().splitlines()[-1]
    return json.loads(json.loads(last))


def test_the_committed_regions_have_one_primary_and_the_variable_validates_them():
    regions = COMMITTED["regions"]
    assert sum(r["primary"] for r in regions) == 1 and len(regions) >= 2, "the platform serves from two regions"
    variable = tf.config()["variable"]["regions"]
    assert "name = string" in variable["type"] and "primary = bool" in variable["type"]
    assert "default" not in variable, "the regions are stated once, in regions.auto.tfvars.json"
    conditions = " ".join(v["condition"] for v in variable["validation"])
    for rule in ("r.primary]) == 1", "distinct([for r in var.regions : r.name])", "r.network_index <= 15"):
        assert rule in conditions, rule


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ([], "between 1 and 16 regions"),
        ([region("a1", "europe-west1"), region("b1", "europe-west4", index=1)], "exactly one region must be primary"),
        (
            [region("a1", "europe-west1", True), region("b1", "europe-west4", True, 1)],
            "exactly one region must be primary",
        ),
        ([region("a1", "europe-west1", True), region("a1", "europe-west4", index=1)], "must be unique"),
        ([region("a1", "europe-west1", True), region("b1", "europe-west1", index=1)], "must be unique"),
        ([region("a1", "europe-west1", True), region("b1", "europe-west4")], "must be unique"),
        ([region("Region_A", "europe-west1", True)], "DNS label"),
        ([region("a1", "australia-southeast1", True)], "Europe, North America or Asia"),
        ([region("a1", "europe-west1", True, 16)], "integer from 0 to 15"),
    ],
)
def test_the_regions_variable_refuses_a_bad_list(tmp_path, regions, message):
    output = evaluate(tmp_path, regions)
    assert "Invalid value for variable" in output and message in output, output


def test_the_derived_values_of_the_committed_regions(tmp_path):
    derived = evaluated(tmp_path, COMMITTED["regions"])
    (primary,) = [r for r in COMMITTED["regions"] if r["primary"]]
    assert derived["home"] == primary["region"]
    # the read replicas live in every region but the home one
    assert derived["secondary"] and primary["region"] not in derived["secondary"]
    assert sorted(derived["secondary"]) == sorted(r["region"] for r in COMMITTED["regions"] if not r["primary"])
    # buckets: a dual-region of the two regions, never single-region
    assert derived["location"] in {"EU", "US", "ASIA"}
    assert sorted(derived["data_locations"]) == sorted(r["region"].upper() for r in COMMITTED["regions"])


def assert_no_overlap(ranges: dict[str, dict[str, str]]) -> None:
    networks = [
        (f"{name}.{kind}", ipaddress.ip_network(cidr)) for name, kinds in ranges.items() for kind, cidr in kinds.items()
    ]
    for i, (a_name, a) in enumerate(networks):
        for b_name, b in networks[i + 1 :]:
            assert not a.overlaps(b), f"{a_name} {a} overlaps {b_name} {b}"


def test_address_ranges_never_overlap_up_to_sixteen_regions(tmp_path):
    assert_no_overlap(evaluated(tmp_path, COMMITTED["regions"])["ranges"])
    names = [f"r{i}" for i in range(16)]
    many = [region(name, f"us-east{i + 1}", i == 0, 15 - i) for i, name in enumerate(names)]
    derived = evaluated(tmp_path, many)
    assert_no_overlap(derived["ranges"])
    assert {ranges["nodes"].split("/")[1] for ranges in derived["ranges"].values()} == {"20"}
    # more than two regions: the continent's multi-region
    assert (derived["location"], derived["data_locations"]) == ("US", [])


def _region_plan() -> Any:
    """scripts/region_plan.py, which computes the same ranges for the Kubernetes overlays' NetworkPolicies."""
    spec = importlib.util.spec_from_file_location("region_plan", tf.REPO / "scripts" / "region_plan.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses resolve their module
    spec.loader.exec_module(module)
    return module


def test_the_overlay_script_derives_the_same_ranges_as_terraform(tmp_path):
    plan_module = _region_plan()
    many = [region(f"r{i}", f"us-east{i + 1}", i == 0, 15 - i) for i in range(16)]
    for regions in (COMMITTED["regions"], many):
        plan = plan_module.parse_plan({"regions": regions, "web_domain": "house-price.example.com"})
        ours = {r.name: {kind: r.network_range(kind) for kind in plan_module.ADDRESS_PLAN} for r in plan.regions}
        assert ours == evaluated(tmp_path, regions)["ranges"]


def test_one_cluster_node_pool_subnet_and_nat_per_region():
    assert tf.local("regions_by_name") == "${{for r in var.regions : r.name => r}}"
    for rtype, name in (
        ("google_container_cluster", "this"),
        ("google_container_node_pool", "apps"),
        ("google_compute_subnetwork", "gke"),
        ("google_compute_router", "nat"),
        ("google_compute_router_nat", "nat"),
        ("google_gke_hub_membership", "this"),
    ):
        body = tf.resource(rtype, name)
        assert body["for_each"] == "${local.regions_by_name}", f"{rtype}.{name}: one per region"
        assert body.get("location", body.get("region")) == "${each.value.region}", f"{rtype}.{name}"
    cluster = tf.resource("google_container_cluster", "this")
    assert cluster["name"] == "${var.cluster_name}-${each.key}"
    assert cluster["subnetwork"] == "${google_compute_subnetwork.gke[each.key].id}"
    assert tf.block(cluster, "gateway_api_config")["channel"] == "CHANNEL_STANDARD"
    assert (
        tf.resource("google_container_node_pool", "apps")["cluster"] == "${google_container_cluster.this[each.key].id}"
    )
    subnet = tf.resource("google_compute_subnetwork", "gke")
    assert subnet["ip_cidr_range"] == "${local.network_ranges[each.key].nodes}"
    secondary = {r["range_name"]: r["ip_cidr_range"] for r in subnet["secondary_ip_range"]}
    assert secondary == {
        "pods": "${local.network_ranges[each.key].pods}",
        "services": "${local.network_ranges[each.key].services}",
    }
    assert tf.resource("google_compute_router_nat", "nat")["router"] == "${google_compute_router.nat[each.key].name}"


def test_every_cluster_is_a_fleet_member_and_the_primary_hosts_the_multi_cluster_gateway():
    membership = tf.resource("google_gke_hub_membership", "this")
    assert membership["membership_id"] == "${google_container_cluster.this[each.key].name}"
    link = tf.block(tf.block(membership, "endpoint"), "gke_cluster")["resource_link"]
    assert link == "//container.googleapis.com/${google_container_cluster.this[each.key].id}"
    features = {body["name"]: body for body in tf.resources("google_gke_hub_feature").values()}
    assert set(features) == {"multiclusterservicediscovery", "multiclusteringress"}
    assert {body["location"] for body in features.values()} == {"global"}
    ingress = tf.block(tf.block(features["multiclusteringress"], "spec"), "multiclusteringress")
    assert ingress["config_membership"] == "${google_gke_hub_membership.this[local.primary.name].id}"
    apis = tf.local("apis")
    for api in ("gkehub", "multiclusteringress", "multiclusterservicediscovery", "trafficdirector", "dns"):
        assert f'"{api}.googleapis.com"' in apis, api


def test_the_mlflow_database_has_a_read_replica_in_every_other_region():
    assert tf.local("secondary_regions") == "${{for r in var.regions : r.name => r if !r.primary}}"
    primary = tf.resource("google_sql_database_instance", "mlflow")
    assert (
        primary["region"] == "${local.home_region}"
        and primary["name"] == "${var.sql_instance_name}-${local.primary.name}"
    )
    replica = tf.resource("google_sql_database_instance", "mlflow_replica")
    assert replica["for_each"] == "${local.secondary_regions}" and replica["region"] == "${each.value.region}"
    assert replica["master_instance_name"] == "${google_sql_database_instance.mlflow.name}"
    assert replica["name"] == "${var.sql_instance_name}-${each.key}"
    assert tf.block(replica, "replica_configuration") == {"failover_target": False}
    assert replica["deletion_protection"] is True
    settings = tf.block(replica, "settings")
    ip = tf.block(settings, "ip_configuration")
    assert ip["ipv4_enabled"] is False and ip["ssl_mode"] == "ENCRYPTED_ONLY"
    flags = {f["name"]: f["value"] for f in tf.block(primary, "settings")["database_flags"]}
    assert {f["name"]: f["value"] for f in settings["database_flags"]} == flags


def test_buckets_are_never_single_region():
    bucket = tf.resource("google_storage_bucket", "this")
    assert bucket["location"] == "${local.bucket_location}"
    (placement,) = [d["custom_placement_config"] for d in bucket["dynamic"] if "custom_placement_config" in d]
    assert placement["content"] == [{"data_locations": "${custom_placement_config.value}"}]
    assert "local.bucket_data_locations" in placement["for_each"]
    assert set(tf.local("multi_regions").values()) == {"EU", "US", "ASIA"}
