"""Manifest fixes for the first deploy: dbapp's consumer has its own probes (exec probes on state files, run here
with sh in every state the consumer can be in), every cert-manager issuer an Ingress names is defined and applied
by the guide, the backup uploads with create-only rights, and every checkov skip on a manifest says why."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests import k8s_support as k8s

ISSUERS_FILE = k8s.REPO / "infra" / "k8s" / "cluster-issuers.yaml"
DEPLOY_DOC = k8s.REPO / "docs" / "deploy.md"


def consumer() -> dict:
    (dbapp,) = [d for d in k8s.of_kind(k8s.render("k8s_web/base"), "Deployment") if d["metadata"]["name"] == "dbapp"]
    (container,) = [c for c in dbapp["spec"]["template"]["spec"]["containers"] if c["name"] == "consumer"]
    return container


# state files present -> (ready, alive)
STATES = {
    "no heartbeat yet (creating its subscriptions)": ("", (False, True)),
    "a fresh heartbeat": ("touch heartbeat", (True, True)),
    "a heartbeat 45 s old (a pull thread died)": ('touch -d "-45 seconds" heartbeat', (False, True)),
    "a heartbeat 120 s old (stuck)": ('touch -d "-120 seconds" heartbeat', (False, False)),
}


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh to run the exec probes")
@pytest.mark.parametrize("state", list(STATES))
def test_consumer_probes_follow_its_state_files(tmp_path, state):
    container = consumer()
    env = {e["name"]: e.get("value") for e in container["env"]}
    state_dir = env["CONSUMER_STATE_DIR"]
    assert any(state_dir.startswith(m["mountPath"] + "/") for m in container["volumeMounts"]), "not on a volume"
    setup, expected = STATES[state]
    subprocess.run(["sh", "-c", setup or "true"], cwd=tmp_path, check=True)
    results = []
    for probe in ("readinessProbe", "livenessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[:2] == ["sh", "-c"], probe
        run_env = {**os.environ, "CONSUMER_STATE_DIR": str(tmp_path)}
        results.append(subprocess.run(command, env=run_env, check=False).returncode == 0)
    assert tuple(results) == expected


def test_consumer_probes_give_it_time_to_start():
    container = consumer()
    assert container["livenessProbe"]["initialDelaySeconds"] >= 30
    assert container["livenessProbe"]["periodSeconds"] * container["livenessProbe"]["failureThreshold"] >= 60


def test_every_issuer_an_ingress_names_is_defined_and_applied_by_the_guide():
    defined = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(ISSUERS_FILE.read_text()) if doc}
    assert all(doc["kind"] == "ClusterIssuer" for doc in defined.values())
    named = {
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        for target in k8s.OVERLAYS
        for ingress in k8s.of_kind(k8s.render(target), "Ingress")
    }
    assert named == {"letsencrypt-prod", "letsencrypt-staging"}
    assert named <= set(defined), f"issuers nobody creates: {named - set(defined)}"
    for issuer in defined.values():  # the ACME account e-mail is filled in at apply time, never committed
        assert issuer["spec"]["acme"]["email"] == "${ACME_EMAIL}"
    doc = DEPLOY_DOC.read_text()
    assert "envsubst '$ACME_EMAIL' < infra/k8s/cluster-issuers.yaml | kubectl apply -f -" in doc
    assert "kubectl get clusterissuer " + " ".join(sorted(defined)) in doc


def test_the_backup_uploads_with_create_only_rights():
    (backup,) = [
        c for c in k8s.of_kind(k8s.render("k8s_ml/base"), "CronJob") if c["metadata"]["name"] == "mlflow-db-backup"
    ]
    (upload,) = backup["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in upload["env"]}
    assert env["CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_ENABLED"] == "False"


def test_every_checkov_skip_on_a_manifest_gives_a_reason():
    skips = 0
    for target in k8s.TARGETS:
        for obj in k8s.render(target):
            for key, value in obj["metadata"].get("annotations", {}).items():
                if key.startswith("checkov.io/skip"):
                    assert re.fullmatch(r"checkov\.io/skip\d+", key), key
                    assert re.fullmatch(r"CKV_K8S_\d+=[^=]{20,}", value), f"{k8s.name(obj)}: {value!r}"
                    skips += 1
    assert skips > 0
