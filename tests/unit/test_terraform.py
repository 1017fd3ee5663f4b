"""infra/terraform against what it must serve: the Workload Identity annotations, ConfigMaps and secretKeyRefs of the
rendered overlays, the topics and subscriptions of the code, the Cloud Build trigger files, the regions stated once
(the multi-region layout itself: test_terraform_regions.py).

Parsed with python-hcl2 (tests/terraform_support.py); the overlays are rendered with `kubectl kustomize`
(tests/k8s_support.py). IAM is in test_terraform_iam.py, Pub/Sub in test_terraform_pubsub.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from common.events import ALL_TOPICS, SUBSCRIPTIONS
from tests import k8s_support as k8s
from tests import terraform_support as tf

FILES = ["versions.tf", "variables.tf", "regions.tf", "apis.tf", "network.tf", "gke.tf", "fleet.tf"]
FILES += ["artifact_registry.tf", "cloudsql.tf", "buckets.tf", "pubsub.tf", "iam.tf", "secrets.tf", "cloudbuild.tf"]
FILES += ["outputs.tf"]
REGION_LITERAL = re.compile(
    r"\b(?:africa|asia|australia|europe|me|northamerica|southamerica|us)-[a-z]+\d+(?:-[a-z])?\b"
)
DEPLOY_DOC = tf.REPO / "docs" / "deploy.md"
REGIONS_FILE = "regions.auto.tfvars.json"


def rendered(targets=k8s.OVERLAYS) -> list[dict]:
    return [obj for target in targets for obj in k8s.render(target)]


def test_every_file_parses_and_the_layout_is_the_documented_one():
    assert tf.tf_files() == sorted(FILES)
    for name in FILES:
        assert tf.parse_file(name), f"{name} is empty"
    for other in ("terraform.tfvars.example", "README.md", ".gitignore", REGIONS_FILE):
        assert (tf.TF_DIR / other).is_file(), other
    assert "terraform.tfvars" in (tf.TF_DIR / ".gitignore").read_text().split()


def test_the_regions_are_stated_once_and_every_regional_resource_uses_them():
    regions = json.loads((tf.TF_DIR / REGIONS_FILE).read_text())["regions"]
    (home,) = [r["region"] for r in regions if r["primary"]]
    assert REGION_LITERAL.fullmatch(home), home
    assert "region" not in tf.config()["variable"], "the home region is the primary's (regions.tf), not a variable"
    literals = {
        path.name
        for path in sorted(tf.TF_DIR.iterdir())
        if path.is_file() and path.name != REGIONS_FILE and REGION_LITERAL.search(path.read_text())
    }
    assert not literals, f"region literals outside {REGIONS_FILE}: {sorted(literals)}"
    allowed = {"${local.home_region}", "${each.value.region}", "global", "${local.bucket_location}"}
    allowed |= {"${google_artifact_registry_repository.images.location}"}
    for (rtype, name), body in tf.config()["resource"].items():
        for key in ("region", "location"):
            if key in body:
                assert body[key] in allowed, f"{rtype}.{name}.{key} = {body[key]!r}: use regions.tf's locals"
    assert tf.local("home_region") == "${local.primary.region}"
    assert tf.resource("google_artifact_registry_repository", "images")["location"] == "${local.home_region}"
    # the pipelines, the trigger substitutions and the guide default to the home region and its cluster
    for pipeline in ("cloudbuild_1.yaml", "cloudbuild_2.yaml"):
        subs = yaml.safe_load((tf.REPO / pipeline).read_text())["substitutions"]
        assert subs["_REGION"] == subs["_GKE_LOCATION"] == home, pipeline
    assert re.search(rf"^export REGION={home}\b", DEPLOY_DOC.read_text(), re.M), "docs/deploy.md's REGION"
    subs = tf.resource("google_cloudbuild_trigger", "pipelines")["substitutions"]
    assert subs["_REGION"] == "${local.home_region}"
    assert subs["_GKE_CLUSTER"] == "${google_container_cluster.this[local.primary.name].name}"
    assert subs["_GKE_LOCATION"] == "${google_container_cluster.this[local.primary.name].location}"


def test_every_ksa_annotation_names_a_terraform_account_bound_to_that_ksa():
    workloads = tf.local("workloads")
    account = tf.resource("google_service_account", "workload")
    assert tf.ref(account["for_each"]) == "local.workloads" and account["account_id"] == "hp-${each.key}"
    binding = tf.resource("google_service_account_iam_member", "workload_identity")
    assert tf.ref(binding["for_each"]) == "local.workloads"
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"] == "serviceAccount:${var.project_id}.svc.id.goog[${each.value}/${each.key}]"
    assert binding["service_account_id"] == "${google_service_account.workload[each.key].name}"
    seen = set()
    for sa in k8s.of_kind(rendered(k8s.OVERLAYS), "ServiceAccount"):
        gsa = sa["metadata"].get("annotations", {}).get("iam.gke.io/gcp-service-account")
        if gsa is None:
            continue
        ksa, namespace = sa["metadata"]["name"], sa["metadata"]["namespace"]
        account_id = gsa.split("@", 1)[0]
        assert account_id == f"hp-{ksa}", f"{namespace}/{ksa} names {gsa}: Terraform creates hp-<ksa> only"
        assert 6 <= len(account_id) <= 30, f"{account_id}: a service account id has 6-30 characters"
        assert workloads.get(ksa) == namespace, f"{namespace}/{ksa}: no Workload Identity binding for it"
        seen.add(ksa)
    assert seen == set(workloads), f"accounts for no annotated KSA: {sorted(set(workloads) - seen)}"
    pool = tf.block(tf.resource("google_container_cluster", "this"), "workload_identity_config")
    assert pool["workload_pool"] == "${var.project_id}.svc.id.goog"
    node_config = tf.block(tf.resource("google_container_node_pool", "apps"), "node_config")
    assert tf.block(node_config, "workload_metadata_config")["mode"] == "GKE_METADATA"


def test_every_topic_and_subscription_the_code_uses_has_dead_letter_and_retry_policies():
    assert set(tf.local("topics")) == set(ALL_TOPICS)
    subscriptions = tf.local("subscriptions")
    assert {name: s["topic"] for name, s in subscriptions.items()} == SUBSCRIPTIONS
    durable = tf.resource("google_pubsub_subscription", "durable")
    assert tf.ref(durable["for_each"]) == "local.subscriptions" and durable["name"] == "${each.key}"
    assert durable["topic"] == "${google_pubsub_topic.events[each.value.topic].id}"
    dead_letter = tf.block(durable, "dead_letter_policy")
    assert dead_letter["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert dead_letter["max_delivery_attempts"] == "${each.value.max_delivery_attempts}"
    retry = tf.block(durable, "retry_policy")
    assert retry == {
        "minimum_backoff": "${each.value.minimum_backoff}",
        "maximum_backoff": "${each.value.maximum_backoff}",
    }
    assert tf.block(durable, "expiration_policy") == {"ttl": ""}
    for name, sub in subscriptions.items():
        assert 5 <= sub["max_delivery_attempts"] <= 100, name
        assert int(sub["minimum_backoff"][:-1]) <= int(sub["maximum_backoff"][:-1]) <= 600, name
    for rtype, rname in (("google_pubsub_topic", "dead_letter"), ("google_pubsub_subscription", "dead_letter")):
        body = tf.resource(rtype, rname)
        assert tf.ref(body["for_each"]) == "local.subscriptions" and body["name"] == "${each.key}-dead-letter"
    # Pub/Sub's service agent may publish to every dead-letter topic and acknowledge on every source subscription
    agent = "${local.pubsub_service_agent}"
    publisher = tf.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert (publisher["role"], publisher["member"], tf.ref(publisher["for_each"])) == (
        "roles/pubsub.publisher",
        agent,
        "local.subscriptions",
    )
    subscriber = tf.resource("google_pubsub_subscription_iam_member", "dead_letter_subscriber")
    assert subscriber["subscription"] == "${google_pubsub_subscription.durable[each.key].id}"
    assert (subscriber["role"], subscriber["member"]) == ("roles/pubsub.subscriber", agent)
    assert tf.local("pubsub_service_agent").endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")


# Every place the code creates a subscription; a new one must be added to Terraform (or here, with the reason).
SUBSCRIBERS = {
    "common/src/common/bus.py": "the helper itself",
    "dbapp/src/dbapp/consumer.py": "DBAPP_SUBSCRIPTIONS (durable: Terraform)",
    "dispatcher/src/dispatcher/__main__.py": "DISPATCHER_SUBSCRIPTION (durable: Terraform)",
    "local_platform/src/local_platform/pipeline.py": "SUBSCRIPTIONS, against the emulator",
    "mlapp/src/mlapp/promotions.py": "one per process, created and deleted by mlapp (1-day expiry): not Terraform's",
}


def test_no_subscriber_is_unaccounted_for():
    found = {
        str(path.relative_to(tf.REPO))
        for path in tf.REPO.glob("*/src/**/*.py")
        if re.search(r"\b(ensure_subscription|create_subscription)\(", path.read_text())
    }
    assert found == set(SUBSCRIBERS), f"new or removed subscribers: {found ^ set(SUBSCRIBERS)}"


def test_every_bucket_a_configmap_names_exists_with_safe_defaults():
    buckets = tf.local("buckets")
    body = tf.resource("google_storage_bucket", "this")
    assert tf.ref(body["for_each"]) == "local.buckets" and body["name"] == "${var.project_id}-${each.key}"
    assert body["uniform_bucket_level_access"] is True and body["public_access_prevention"] == "enforced"
    assert tf.block(body, "versioning") == {"enabled": True} and body["force_destroy"] is False
    assert body.get("lifecycle_rule"), "no lifecycle rule"
    named = 0
    for env in k8s.OVERLAY_ENVS:
        for tree in k8s.TREES:
            project = yaml.safe_load((tf.REPO / tree / "overlays" / env / "gcp-project.yaml").read_text())["data"]
            assert project["BUCKET_PREFIX"] == f"gs://{project['PROJECT_ID']}", "Terraform names <project>-<role>"
            for cm in k8s.of_kind(k8s.render(f"{tree}/overlays/{env}"), "ConfigMap"):
                for key, value in (cm.get("data") or {}).items():
                    for url in re.findall(r"gs://[\w.-]+", value):
                        suffix = url.removeprefix(f"gs://{project['PROJECT_ID']}-")
                        assert suffix in buckets, f"{cm['metadata']['name']}.{key} = {url}: no such Terraform bucket"
                        named += 1
    assert named >= 8


def _walk(value):
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def secret_refs() -> set[tuple[str, str, str]]:
    """(namespace, Secret, key) of every secretKeyRef, every key a Secret volume projects (`items`), and the MLflow
    Ingress's basic-auth file."""
    refs = set()
    for obj in rendered(k8s.OVERLAYS):
        namespace = obj["metadata"].get("namespace", "")
        for node in _walk(obj):
            if "secretKeyRef" in node:
                refs.add((namespace, node["secretKeyRef"]["name"], node["secretKeyRef"]["key"]))
            if isinstance(node.get("secret"), dict) and "secretName" in node["secret"]:
                volume = node["secret"]
                assert volume.get("items"), f"Secret volume {volume['secretName']} must list its keys (items)"
                refs |= {(namespace, volume["secretName"], item["key"]) for item in volume["items"]}
        auth = obj["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/auth-secret")
        if auth:
            refs.add((namespace, auth, "auth"))
    return refs


def test_every_secret_the_manifests_read_is_in_secret_manager_and_created_by_the_guide():
    k8s_secrets = tf.local("k8s_secrets")
    refs = secret_refs()
    assert ("web", "grafana-admin", "admin-password") in refs and (
        "ml",
        "mlflow-db",
        "MLFLOW_BACKEND_STORE_URI",
    ) in refs
    stated = {
        (ns_name.split("/")[0], ns_name.split("/")[1], key) for ns_name, keys in k8s_secrets.items() for key in keys
    }
    assert stated == refs, f"manifests only: {refs - stated}; Terraform only: {stated - refs}"
    secret = tf.resource("google_secret_manager_secret", "this")
    assert secret["for_each"] == "${toset(local.secret_ids)}" and secret["secret_id"] == "${each.key}"
    assert "values(local.k8s_secrets)" in tf.local("secret_ids")
    # a replica of every secret in every serving region
    (dynamic,) = tf.block(tf.block(secret, "replication"), "user_managed")["dynamic"]
    assert dynamic["replicas"]["for_each"] == "${var.regions}"
    assert dynamic["replicas"]["content"] == [{"location": "${replicas.value.region}"}]
    generated = set(tf.local("generated_secret_ids"))
    doc = DEPLOY_DOC.read_text().replace("\\\n", " ")
    assert re.search(r'sm\(\) \{ gcloud secrets versions access latest --secret="\$1"', doc), "the guide's sm()"
    for ns_name, keys in k8s_secrets.items():
        namespace, name = ns_name.split("/")
        command = re.search(rf"kubectl -n {namespace} create secret generic {name} [^\n]*", doc)
        assert command, f"docs/deploy.md does not create the Secret {ns_name}"
        for key, secret_id in keys.items():
            assert f'--from-literal={key}="$(sm {secret_id})"' in command.group(), f"{ns_name} {key} in the guide"
            if secret_id not in generated:  # a value Terraform cannot know: the guide adds it
                assert re.search(rf"gcloud secrets versions add {secret_id} ", doc), f"no step adds {secret_id}"


def test_the_triggers_are_the_trigger_files():
    pipelines = tf.local("pipelines")
    trigger = tf.resource("google_cloudbuild_trigger", "pipelines")
    assert (
        tf.ref(trigger["for_each"]) == "local.pipelines" and trigger["included_files"] == "${each.value.included_files}"
    )
    assert trigger["filename"] == "${each.value.filename}" and trigger["name"] == "${each.value.name}"
    assert trigger["service_account"] == "${google_service_account.cloudbuild.id}"
    for tree in ("ml", "web"):
        text = (tf.REPO / "cloudbuild" / "triggers" / f"{tree}.yaml").read_text()
        expected = yaml.safe_load(text.replace("${", "{"))
        assert pipelines[tree]["included_files"] == expected["includedFiles"], tree
        assert (pipelines[tree]["name"], pipelines[tree]["filename"]) == (expected["name"], expected["filename"])
        assert pipelines[tree]["description"] == expected["description"]
        assert tf.config()["variable"]["trigger_branch"]["default"] == expected["github"]["push"]["branch"]
        declared = yaml.safe_load((tf.REPO / expected["filename"]).read_text())["substitutions"]
        assert set(trigger["substitutions"]) <= set(declared), "a trigger substitution the pipeline does not declare"
    account = tf.resource("google_service_account", "cloudbuild")["account_id"]
    assert f"serviceAccounts/{account}@" in (tf.REPO / "cloudbuild" / "triggers" / "ml.yaml").read_text()


def test_cloud_sql_is_private_backed_up_and_protected():
    sql = tf.resource("google_sql_database_instance", "mlflow")
    settings = tf.block(sql, "settings")
    ip = tf.block(settings, "ip_configuration")
    assert ip["ipv4_enabled"] is False and ip["private_network"] == "${google_compute_network.vpc.id}"
    backups = tf.block(settings, "backup_configuration")
    assert backups["enabled"] is True and backups["point_in_time_recovery_enabled"] is True
    assert sql["deletion_protection"] is True and settings["deletion_protection_enabled"] is True
    assert sql["region"] == "${local.home_region}" and "google_service_networking_connection" in str(sql["depends_on"])
    assert tf.resource("google_sql_database", "mlflow")["name"] == "mlflow"
    user = tf.resource("google_sql_user", "mlflow")
    assert user["name"] == "mlflow" and user["password"] == "${random_password.mlflow_db.result}"
    uri = tf.local("generated_secret_values")["mlflow-db-backend-store-uri"]
    assert "${random_password.mlflow_db.result}@${google_sql_database_instance.mlflow.private_ip_address}" in uri
    address = tf.resource("google_compute_global_address", "private_services")
    assert (address["purpose"], address["address_type"]) == ("VPC_PEERING", "INTERNAL")
    peering = tf.resource("google_service_networking_connection", "private_services")
    assert peering["reserved_peering_ranges"] == ["${google_compute_global_address.private_services.name}"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary (the ml pipeline runs fmt there)")
def test_terraform_fmt_is_clean():
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(tf.TF_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
