"""infra/terraform/iam.tf (and the accounts of gke.tf and cloudbuild.tf): least privilege on the resource, the
few project-level grants named one by one, and the role tables of k8s_web/README.md and k8s_ml/README.md saying
exactly what Terraform grants."""

from __future__ import annotations

import re

import pytest

from tests import terraform_support as tf

KINDS = {"bucket": "bucket_grants", "topic": "topic_grants", "subscription": "subscription_grants"}
# Every project-level grant: (account resource, role) -> why it cannot be on a resource. Grants to Google's own
# identities (no google_service_account of ours) are named by their resource.
PROJECT_GRANTS = {
    ("workload/mlapp", "hpPubsubOwnSubscriptions"): "per-process subscriptions, names unknown in advance",
    ("nodes", "roles/container.defaultNodeServiceAccount"): "node logs and metrics",
    ("cloudbuild", "roles/container.admin"): "deploys ClusterRoles",
    ("cloudbuild", "roles/logging.logWriter"): "build logs",
    ("mcs_importer", "roles/compute.networkViewer"): "Multi-cluster Services reads the VPC's endpoints",
    ("multi_cluster_gateway", "roles/container.admin"): "the multi-cluster Gateway controller in every member",
}
# Google's identities that get a project-level grant: resource name -> the member it must be.
GOOGLE_AGENTS = {
    "mcs_importer": "serviceAccount:${var.project_id}.svc.id.goog[gke-mcs/gke-mcs-importer]",
    "multi_cluster_gateway": (
        "serviceAccount:service-${data.google_project.this.number}@gcp-sa-multiclusteringress.iam.gserviceaccount.com"
    ),
}
CUSTOM_ROLES = {
    "hpPubsubOwnSubscriptions": [
        "pubsub.subscriptions.consume",
        "pubsub.subscriptions.create",
        "pubsub.subscriptions.delete",
    ],
}
# Who publishes which topic (common.events.EVENT_TYPES and the publishers in */src).
PUBLISHERS = {
    "predictions": "webapp",
    "corrections": "webapp",
    "dataset-versions": "data-job",
    "model-promotions": "trainer",
    "region-events": "failover-controller",  # the failover controller's decisions
    "dbapp-predictions-dead-letter": "dbapp",  # events the consumer can never store, with the reason
    "dbapp-corrections-dead-letter": "dbapp",
    "dispatcher-dataset-versions-dead-letter": "dispatcher",  # an event that is not a dataset version
}


def terraform_grants() -> set[tuple[str, str, str, str]]:
    """(ksa, role, kind, resource name) for every role a workload account gets."""
    grants = {(g["ksa"], g["role"], kind, g[kind]) for kind, key in KINDS.items() for g in tf.local(key)}
    grants |= {(g["ksa"], g["role"], "project", "project") for g in tf.local("project_grants")}
    return grants


def readme_grants(readme: str) -> tuple[set[str], set[tuple[str, str, str, str]]]:
    """The KSAs of the README's role table and the grants it states."""
    text = (tf.REPO / readme / "README.md").read_text()
    section = text[text.index("## Workload Identity and roles") :]
    ksas, grants = set(), set()
    for ksa, cell in re.findall(r"^\| `([\w-]+)` \| (.+) \|$", section, re.M):
        ksas.add(ksa)
        for clause in re.sub(r"\s*\([^)]*\)", "", cell).split(";"):
            clause = clause.strip()
            if clause == "none":
                continue
            match = re.fullmatch(r"`([\w./]+)` on (the project|(bucket|topic|subscription)s? (.+))", clause)
            assert match, f"{readme}: cannot read the role clause {clause!r} of {ksa}"
            role, where, kind, names = match.groups()
            if where == "the project":
                grants.add((ksa, role, "project", "project"))
            else:
                grants |= {(ksa, role, kind, name) for name in re.findall(r"`([\w-]+)`", names)}
    return ksas, grants


@pytest.mark.parametrize(("readme", "namespace"), [("k8s_web", "web"), ("k8s_ml", "ml")])
def test_the_readme_role_tables_say_what_terraform_grants(readme, namespace):
    workloads = {ksa for ksa, ns in tf.local("workloads").items() if ns == namespace}
    ksas, stated = readme_grants(readme)
    assert ksas == workloads, f"{readme}/README.md lists {sorted(ksas)}, Terraform has {sorted(workloads)}"
    granted = {g for g in terraform_grants() if g[0] in workloads}
    assert stated == granted, f"README only: {sorted(stated - granted)}; Terraform only: {sorted(granted - stated)}"


def test_grants_name_existing_accounts_buckets_topics_and_subscriptions():
    workloads = tf.local("workloads")
    suffix = "-dead-letter"
    existing = {
        "bucket": set(tf.local("buckets")),
        "topic": set(tf.local("topics")) | {s + suffix for s in tf.local("subscriptions")},
        "subscription": set(tf.local("subscriptions")) | {s + suffix for s in tf.local("subscriptions")},
        "project": {"project"},
    }
    for ksa, role, kind, name in terraform_grants():
        assert ksa in workloads, f"grant to unknown workload {ksa}"
        assert name in existing[kind], f"{ksa}: {role} on unknown {kind} {name}"
    bucket = tf.resource("google_storage_bucket_iam_member", "workload")
    assert bucket["bucket"] == "${google_storage_bucket.this[each.value.bucket].name}"
    for rtype, key in (
        ("google_pubsub_topic_iam_member", "topic"),
        ("google_pubsub_subscription_iam_member", "subscription"),
    ):
        body = tf.resource(rtype, "workload")
        assert body[key] == f"${{each.value.{key}}}" and body["project"] == "${var.project_id}", rtype
    for rtype in ("google_storage_bucket_iam_member", "google_pubsub_topic_iam_member", "google_project_iam_member"):
        assert tf.resource(rtype, "workload")["member"] == "${google_service_account.workload[each.value.ksa].member}"


def test_project_level_grants_are_only_the_named_exceptions():
    found = set()
    for name, body in tf.resources("google_project_iam_member").items():
        ours = re.search(r"google_service_account\.(\w+)", body["member"])
        if ours is None:
            assert body["member"] == GOOGLE_AGENTS.get(name), f"{name}: grant to an unknown member {body['member']}"
        account = ours.group(1) if ours else name
        if name == "workload":
            assert body["role"] == "${google_project_iam_custom_role.this[each.value.role].id}"
            found |= {(f"workload/{g['ksa']}", g["role"]) for g in tf.local("project_grants")}
        elif "for_each" in body:
            roles = re.findall(r'"(roles/[\w.]+)"', body["for_each"])
            found |= {(account, role) for role in roles}
        else:
            found.add((account, body["role"]))
    assert found == set(PROJECT_GRANTS), f"unexpected project-level grants: {found ^ set(PROJECT_GRANTS)}"
    custom = tf.resource("google_project_iam_custom_role", "this")
    assert tf.ref(custom["for_each"]) == "local.custom_roles" and custom["role_id"] == "${each.key}"
    assert custom["permissions"] == "${each.value.permissions}"
    assert {name: sorted(role["permissions"]) for name, role in tf.local("custom_roles").items()} == CUSTOM_ROLES


def test_no_basic_or_admin_roles_beyond_the_deployer():
    text = "\n".join(p.read_text() for p in tf.TF_DIR.glob("*.tf"))
    for role in re.findall(r"roles/[\w.]+", text):
        assert role not in {"roles/owner", "roles/editor", "roles/viewer"}, role
        assert not role.endswith((".admin", "Admin", ".editor")) or role == "roles/container.admin", role


def test_publishers_and_the_setup_jobs_reader_rights():
    topic_grants = tf.local("topic_grants")
    publishers = {g["topic"]: g["ksa"] for g in topic_grants if g["role"] == "roles/pubsub.publisher"}
    assert publishers == PUBLISHERS
    suffix = "-dead-letter"
    subscriptions = set(tf.local("subscriptions"))
    viewer_topics = {g["topic"] for g in topic_grants if g["ksa"] == "pubsub-setup"}
    assert viewer_topics == set(tf.local("topics")) | {s + suffix for s in subscriptions}
    viewer_subs = {g["subscription"] for g in tf.local("subscription_grants") if g["ksa"] == "pubsub-setup"}
    assert viewer_subs == subscriptions | {s + suffix for s in subscriptions}
    assert {g["role"] for g in topic_grants if g["ksa"] == "pubsub-setup"} == {"roles/pubsub.viewer"}


def test_nodes_and_cloud_build_accounts():
    nodes = tf.resource("google_service_account", "nodes")
    assert 6 <= len(nodes["account_id"]) <= 30
    for body in (tf.resource("google_container_cluster", "this"), tf.resource("google_container_node_pool", "apps")):
        assert tf.block(body, "node_config")["service_account"] == "${google_service_account.nodes.email}"
    readers = tf.resources("google_artifact_registry_repository_iam_member")
    assert readers["nodes"]["role"] == "roles/artifactregistry.reader"
    assert readers["nodes"]["repository"] == "${google_artifact_registry_repository.images.name}"
    assert readers["cloudbuild"]["role"] == "roles/artifactregistry.writer"
    landing = tf.resource("google_storage_bucket_iam_member", "cloudbuild_landing")
    assert landing["bucket"] == '${google_storage_bucket.this["landing"].name}'
    assert set(re.findall(r'"(roles/[\w.]+)"', landing["for_each"])) == {
        "roles/storage.objectCreator",
        "roles/storage.objectViewer",
    }
