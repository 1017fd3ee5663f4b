"""The web pipeline deploys every region (cloudbuild_2.yaml, step `deploy`: cloudbuild/deploy_web.sh with
cloudbuild/web_regions.py): each region of infra/terraform/regions.auto.tfvars.json gets its overlay in its own
cluster, named as infra/terraform/gke.tf names it, the primary first; the Gateway goes to the primary's cluster only,
keeping the failover controller's weights; a region that does not roll out stops the deploy there.

The deploy script runs for real against fake gcloud and kubectl (tests/cloudbuild_fakes.py), which keep the cluster
context that `gcloud container clusters get-credentials` sets, so each apply and rollout is seen in its cluster.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests import terraform_support as tf
from tests.cloudbuild_fakes import REGIONS_FILE, final_state, run_step
from tests.cloudbuild_support import ROOT, TREES, load, predecessors, step, steps_of

WEB = load("cloudbuild_2.yaml")
PREFIX = "house-price"  # infra/terraform/variables.tf's cluster_name (test_clusters_are_named_as_terraform_names_them)
# Three regions, the primary in the middle, names unlike their GCP regions: a deploy that takes the list's first
# region for the primary, or a GCP region for a name, picks a wrong cluster.
REGIONS = [
    {"name": "west", "region": "europe-west4", "primary": False, "network_index": 1},
    {"name": "home", "region": "europe-west1", "primary": True, "network_index": 0},
    {"name": "east", "region": "asia-east1", "primary": False, "network_index": 2},
]
ORDER = ["home", "west", "east"]  # the primary first, then the file's order
GATEWAY = "k8s_web/overlays/gateway"
WORKLOADS = ["deployment.apps/webapp", "deployment.apps/mlapp", "statefulset.apps/prometheus"]
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def context(name: str) -> str:
    """What the fakes call the cluster of region `name`: `<cluster>@<location>`."""
    region = next(r for r in REGIONS if r["name"] == name)
    return f"{PREFIX}-{name}@{region['region']}"


def overlay(name: str) -> str:
    return f"k8s_web/overlays/regions/{name}"


def route(weights: dict[str, int]) -> dict:
    refs = [{"kind": "ServiceImport", "name": f"webapp-{n}", "port": 8080, "weight": w} for n, w in weights.items()]
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "webapp"},
            "spec": {"rules": [{"backendRefs": refs}]}}  # fmt: skip


def state(**extra) -> dict:
    """Each overlay renders to text naming it, so that an apply shows which overlay went to which cluster."""
    rendered = {overlay(r["name"]): f"# {overlay(r['name'])}\nkind: Deployment\n" for r in REGIONS}
    gateway = [{"kind": "Gateway", "metadata": {"name": "webapp"}}, route({"home": 100, "west": 0, "east": 0})]
    rendered[GATEWAY] = yaml.safe_dump_all(gateway)
    return {"issuers": ["letsencrypt-prod"], "rendered_by_overlay": rendered, "workloads": WORKLOADS, **extra}


def deploy(tmp: Path, fake_state: dict, regions=REGIONS, **substitutions: str) -> tuple[int, dict, str, list]:
    (tmp / REGIONS_FILE).parent.mkdir(parents=True)
    (tmp / REGIONS_FILE).write_text(json.dumps({"regions": regions, "web_domain": "example.com"}))
    subs = {"_GKE_CLUSTER": f"{PREFIX}-home", "_GKE_LOCATION": "europe-west1", **substitutions}
    code, calls, err = run_step(WEB, "deploy", tmp, fake_state, **subs)
    return code, final_state(tmp), err, calls


def applied(after: dict) -> list[tuple[str, str]]:
    """(cluster context, overlay) of each apply, in order; the Gateway's apply is kubectl's JSON."""
    found = []
    for where, text in after.get("applied", []):
        found.append((where, GATEWAY if text.lstrip().startswith("{") else text.splitlines()[0].removeprefix("# ")))
    return found


def gateway_weights(after: dict) -> dict[str, int]:
    (text,) = [text for _, text in after["applied"] if text.lstrip().startswith("{")]
    (live_route,) = [o for o in json.loads(text)["items"] if o["kind"] == "HTTPRoute"]
    return {ref["name"]: ref["weight"] for ref in live_route["spec"]["rules"][0]["backendRefs"]}


@needs_bash
def test_every_region_goes_to_its_own_cluster_and_the_gateway_to_the_primarys_only(tmp_path):
    code, after, err, calls = deploy(tmp_path, state())
    assert code == 0, err
    assert applied(after) == [(context(n), overlay(n)) for n in ORDER] + [(context("home"), GATEWAY)]
    assert after["rollouts"] == [[context(n), w] for n in ORDER for w in WORKLOADS]
    credentials = [c[4:] for c in calls if c[:4] == ["gcloud", "container", "clusters", "get-credentials"]]
    expected = [[f"{PREFIX}-{n}", "--location", context(n).split("@")[1], "--project", "p-123456"] for n in ORDER]
    assert credentials == [*expected, expected[0]]


@needs_bash
def test_a_region_that_does_not_roll_out_stops_the_deploy_there(tmp_path):
    failing = [[context("west"), "deployment.apps/mlapp"]]
    code, after, err, _ = deploy(tmp_path, state(failing_rollouts=failing))
    assert code == 1
    assert "deployment.apps/mlapp did not become ready within 300s in cluster house-price-west" in err
    # the primary was deployed; the region after the failed one and the Gateway are untouched
    assert applied(after) == [(context("home"), overlay("home")), (context("west"), overlay("west"))]
    assert [w for _, w in after["rollouts"]][-1] == "deployment.apps/mlapp"


@needs_bash
@pytest.mark.parametrize(
    ("cluster", "location"),
    [("house-price", "europe-west1"), (f"{PREFIX}-west", "europe-west4"), (f"{PREFIX}-home", "europe-west4")],
)
def test_a_cluster_that_is_not_the_primarys_is_refused_before_any_apply(tmp_path, cluster, location):
    code, after, err, calls = deploy(tmp_path, state(), _GKE_CLUSTER=cluster, _GKE_LOCATION=location)
    assert code != 0 and "primary" in err
    assert not after.get("applied") and not [c for c in calls if c[0] == "gcloud"]


@needs_bash
def test_a_regions_file_terraform_would_refuse_is_refused(tmp_path):
    two_primaries = [{**r, "primary": True} for r in REGIONS]
    code, after, err, _ = deploy(tmp_path, state(), regions=two_primaries)
    assert code != 0 and "exactly one region must be primary" in err and not after.get("applied")


@needs_bash
def test_the_dev_overlay_goes_to_the_given_cluster_alone(tmp_path):
    fake = {"issuers": ["letsencrypt-staging"], "rendered": "# dev\n", "workloads": WORKLOADS}
    code, after, err, _ = deploy(tmp_path, fake, _OVERLAY="dev", _GKE_CLUSTER="dev-cluster", _GKE_LOCATION="zone-a")
    assert code == 0, err
    assert applied(after) == [("dev-cluster@zone-a", "dev")]


@needs_bash
@pytest.mark.parametrize(
    ("live", "expected"),
    [
        ([], {"home": 100, "west": 0, "east": 0}),  # first deploy: the rendered weights
        ([route({"home": 0, "west": 100})], {"home": 0, "west": 100, "east": 0}),  # failed over; east is new
        ([route({"home": 50, "west": 50, "east": 0})], {"home": 50, "west": 50, "east": 0}),
        ([route({"gone": 100, "home": 0})], {"home": 100, "west": 0, "east": 0}),  # no traffic left: rendered
    ],
)
def test_the_gateway_keeps_the_weights_the_failover_controller_set(tmp_path, live, expected):
    code, after, err, _ = deploy(tmp_path, state(live=live))
    assert code == 0, err
    assert gateway_weights(after) == {f"webapp-{name}": weight for name, weight in expected.items()}


def _web_regions() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_regions", ROOT / "cloudbuild" / "web_regions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    path = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path  # the script puts scripts/ first for region_plan
    return module


def test_kubectls_json_is_read_as_a_list_or_a_stream():
    parse = _web_regions().parse_objects
    one, two = {"kind": "A"}, {"kind": "B"}
    assert parse("") == [] and parse(json.dumps(one)) == [one]
    assert parse(json.dumps({"kind": "List", "items": [one, two]})) == [one, two]
    assert parse(f"{json.dumps(one)}\n{json.dumps(two)}\n") == [one, two]
    assert parse(json.dumps({"kind": "List", "items": None})) == []


def test_clusters_are_named_as_terraform_names_them():
    """gke.tf: one cluster per region name, `<cluster_name>-<name>` in the region's GCP region; the pipelines'
    defaults name the primary's, which the trigger passes (test_terraform.py) and the deploy names the others from."""
    cluster = tf.resource("google_container_cluster", "this")
    assert tf.ref(cluster["for_each"]) == "local.regions_by_name"
    assert tf.local("regions_by_name") == "${{for r in var.regions : r.name => r}}"
    assert (cluster["name"], cluster["location"]) == ("${var.cluster_name}-${each.key}", "${each.value.region}")
    assert tf.config()["variable"]["cluster_name"]["default"] == PREFIX
    regions = json.loads((ROOT / REGIONS_FILE).read_text())["regions"]
    (primary,) = [r for r in regions if r["primary"]]
    for pipeline in TREES:
        subs = load(pipeline)["substitutions"]
        assert (subs["_GKE_CLUSTER"], subs["_GKE_LOCATION"]) == (f"{PREFIX}-{primary['name']}", primary["region"])
    # the deployer's container role is the project's: it reaches every region's cluster
    grant = tf.resource("google_project_iam_member", "cloudbuild")
    assert "roles/container.admin" in grant["for_each"] and grant["project"] == "${var.project_id}"


def test_the_deploy_waits_for_every_image_pin_and_the_champion():
    steps = steps_of(WEB)
    before = predecessors(steps, [s["id"] for s in steps].index("deploy"))
    assert {"set-project", "set-images", "set-failover-image", "wait-for-champion"} <= before
    assert step(WEB, "set-failover-image")["dir"] == TREES["cloudbuild_2.yaml"]["pinned_in"]["failover-controller"]
    # the primary's region overlay is the one with the failover controller's component
    regions = json.loads((ROOT / REGIONS_FILE).read_text())["regions"]
    for region in regions:
        kustomization = (ROOT / overlay(region["name"]) / "kustomization.yaml").read_text()
        assert ("components/failover-controller" in kustomization) is region["primary"], region["name"]
