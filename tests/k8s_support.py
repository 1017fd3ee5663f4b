"""Helpers for the Kubernetes manifest tests: render the kustomize trees with `kubectl kustomize` (cached per
session) and small readers over the rendered objects (workload pod specs, label selectors, NetworkPolicy
evaluation)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# What the tests render: both bases and every overlay. The namespace each tree must deploy into.
TREES = {"k8s_web": "web", "k8s_ml": "ml"}
BASES = [f"{tree}/base" for tree in TREES]
OVERLAY_ENVS = ["dev", "prod"]
OVERLAYS = [f"{tree}/overlays/{env}" for tree in TREES for env in OVERLAY_ENVS]
# The dev overlay with the optional in-cluster MongoDB component (rendered from a temporary kustomization).
MONGODB_TARGET = "k8s_web/overlays/dev+components/mongodb"
OVERLAYS.append(MONGODB_TARGET)
TARGETS = BASES + OVERLAYS
# The web and ml renders that are deployed together (cross-namespace references resolve between them).
PAIRS = [("k8s_web/base", "k8s_ml/base")] + [(f"k8s_web/overlays/{e}", f"k8s_ml/overlays/{e}") for e in OVERLAY_ENVS]

SERVING = ("webapp", "mlapp", "dbapp")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        print("kubectl not found on PATH: the Kubernetes manifest tests are skipped")
        pytest.skip("kubectl is not installed: cannot render the kustomize trees")
    return path


def _mongodb_overlay(tmp: Path) -> Path:
    """The dev overlay plus the MongoDB component, as a user would add it (before gcp-project, so that the
    component's ServiceAccount gets the project too)."""
    web = Path(os.path.relpath(REPO / "k8s_web", tmp))
    (tmp / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"resources: [{web}/overlays/dev]\n"
        f"components: [{web}/components/mongodb, {web}/components/gcp-project]\n"
    )
    return tmp


@functools.cache
def _render_text(target: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        if target == MONGODB_TARGET:
            args = ["--load-restrictor", "LoadRestrictionsNone", str(_mongodb_overlay(Path(tmp)))]
        else:
            args = [str(REPO / target)]
        proc = subprocess.run([kubectl(), "kustomize", *args], capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {target} failed:\n{proc.stderr}")
    return proc.stdout


def render(target: str) -> list[dict]:
    """The objects `kubectl kustomize <target>` prints (fresh copies: callers may mutate them)."""
    return [doc for doc in yaml.safe_load_all(_render_text(target)) if doc]


def tree_of(target: str) -> str:
    return target.split("/", 1)[0]


def name(obj: dict) -> str:
    return f"{obj['kind']}/{obj.get('metadata', {}).get('namespace', '')}/{obj['metadata']['name']}"


def of_kind(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def pod_template(obj: dict) -> dict:
    """The pod template (metadata + spec) of a workload object."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def workloads(objs: list[dict]) -> Iterator[tuple[dict, dict]]:
    for obj in objs:
        if obj["kind"] in WORKLOAD_KINDS:
            yield obj, pod_template(obj)


def containers(pod_spec: dict) -> list[dict]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels and matchExpressions); an empty selector matches all."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Pod:
    """A pod for NetworkPolicy evaluation: its namespace and labels."""

    def __init__(self, namespace: str, labels: dict[str, str]):
        self.namespace = namespace
        self.labels = labels
        self.ns_labels = {"kubernetes.io/metadata.name": namespace}

    def __repr__(self) -> str:
        return f"Pod({self.namespace}, {self.labels})"


def _peer_matches(peer: dict, policy_ns: str, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # pod addresses are private cluster addresses; ipBlocks here are for outside the cluster
    ns_sel = peer.get("namespaceSelector")
    pod_sel = peer.get("podSelector")
    ns_ok = pod.namespace == policy_ns if ns_sel is None else selector_matches(ns_sel, pod.ns_labels)
    pod_ok = True if pod_sel is None else selector_matches(pod_sel, pod.labels)
    return ns_ok and pod_ok


def _port_matches(rule: dict, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _allowed(policies: list[dict], direction: str, me: Pod, other: Pod, port: int, protocol: str) -> bool:
    key, peer_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace") == me.namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and selector_matches(p["spec"].get("podSelector", {}), me.labels)
    ]
    if not selecting:
        return True  # not isolated in this direction
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peer_key)
            peer_ok = True if not peers else any(_peer_matches(pe, me.namespace, other) for pe in peers)
            if peer_ok and _port_matches(rule, port, protocol):
                return True
    return False


def connection_allowed(policies: list[dict], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    """Whether NetworkPolicies let `src` open a connection to `dst` on `port` (egress of src and ingress of dst)."""
    return _allowed(policies, "Egress", src, dst, port, protocol) and _allowed(
        policies, "Ingress", dst, src, port, protocol
    )


def pod_of(objs: list[dict], app: str) -> Pod:
    """The pod of the workload whose pod template carries label app=<app>."""
    for obj, template in workloads(objs):
        labels = template.get("metadata", {}).get("labels", {})
        if labels.get("app") == app:
            return Pod(obj["metadata"]["namespace"], labels)
    raise AssertionError(f"no workload with pod label app={app}")


def serving_deployments(objs: list[dict]) -> list[dict]:
    """The Deployments of the serving tier (webapp, mlapp, dbapp)."""
    return [d for d in of_kind(objs, "Deployment") if d["metadata"]["name"] in SERVING]
