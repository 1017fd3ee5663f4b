"""Both kustomize bases and every overlay render with `kubectl kustomize`, and every rendered object validates
against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown fields are errors)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests import k8s_support as k8s

# GKE's regular channel and the newest schema set kubernetes-validate ships.
K8S_VERSIONS = sorted({"1.31.0", kubernetes_validate.latest_version()})


@pytest.mark.parametrize("target", k8s.TARGETS)
def test_renders_into_its_namespace(target):
    objs = k8s.render(target)
    namespace = k8s.TREES[k8s.tree_of(target)]
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "Deployment", "Service", "ConfigMap", "NetworkPolicy", "ServiceAccount"} <= kinds
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    wrong = [
        k8s.name(o) for o in objs if o["kind"] not in cluster_scoped and o["metadata"].get("namespace") != namespace
    ]
    assert not wrong, f"objects outside namespace {namespace}: {wrong}"
    # a secondary region also makes the namespace ml, empty: Multi-cluster Services imports MLflow's Service into it
    also = ["ml"] if target in k8s.SECONDARY_REGION_OVERLAYS else []
    assert sorted(o["metadata"]["name"] for o in k8s.of_kind(objs, "Namespace")) == sorted([namespace, *also])
    # local-config objects (the overlay's gcp-project values) are never applied
    assert not [o for o in objs if o["metadata"]["name"] == "gcp-project"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", k8s.TARGETS)
def test_every_object_validates_against_the_schemas(target, version):
    errors, skipped = [], []
    for obj in k8s.render(target):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            # custom resources (e.g. cert-manager's) have no schema in kubernetes-validate
            skipped.append(k8s.name(obj))
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{k8s.name(obj)}: {exc.message} at {'/'.join(map(str, exc.path))}")
    if skipped:
        print(f"not validated (no schema: custom resources): {skipped}")
    builtin_skipped = [s for s in skipped if s.split("/")[0] in {"Deployment", "Service", "CronJob", "Ingress"}]
    assert not builtin_skipped, f"built-in kinds without schema (wrong apiVersion?): {builtin_skipped}"
    assert not errors, "\n".join(errors)


def test_the_validator_rejects_a_broken_deployment():
    """Guards the test above against validating nothing: a typo'd field and a wrong type are reported."""
    deployment = copy.deepcopy(k8s.of_kind(k8s.render("k8s_web/base"), "Deployment")[0])
    kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    deployment["spec"]["replicas"] = 3
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
