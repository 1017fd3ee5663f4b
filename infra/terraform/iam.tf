# One Google service account per Kubernetes service account, account_id hp-<ksa> exactly as the KSA annotations
# name it (k8s_web/base/serviceaccounts.yaml, k8s_ml/base/serviceaccounts.yaml,
# k8s_web/components/mongodb/mongodb.yaml), bound to that KSA only by Workload Identity. Roles are granted on the
# bucket, topic or subscription they concern; the two project-level grants below exist because the code creates
# resources whose names are not known in advance. k8s_web/README.md and k8s_ml/README.md list the same roles
# (tests/unit/test_terraform_iam.py compares them).
locals {
  # KSA -> namespace. Workloads that call no Google API (prometheus, alertmanager, grafana, kube-state-metrics,
  # mongodb) get an account with no role, so that their annotation names an account that exists.
  workloads = {
    webapp              = "web"
    mlapp               = "web"
    dbapp               = "web"
    prometheus          = "web"
    alertmanager        = "web"
    grafana             = "web"
    kube-state-metrics  = "web"
    mongodb             = "web"
    failover-controller = "web"
    mlflow              = "ml"
    data-job            = "ml"
    trainer             = "ml"
    dispatcher          = "ml"
    pubsub-setup        = "ml"
    mlflow-db-backup    = "ml"
  }

  bucket_grants = [
    # webapp writes each upload as a new object (uploads/<timestamp>-<name>.csv), never reads or replaces one
    { ksa = "webapp", bucket = "landing", role = "roles/storage.objectCreator" },
    # the data job lists and reads landing (never changes it) and owns the datasets bucket (writes, deletes batches)
    { ksa = "data-job", bucket = "landing", role = "roles/storage.objectViewer" },
    { ksa = "data-job", bucket = "datasets", role = "roles/storage.objectUser" },
    { ksa = "trainer", bucket = "datasets", role = "roles/storage.objectViewer" },
    # the MLflow server stores and serves (--serve-artifacts) every artifact; clients never touch the bucket
    { ksa = "mlflow", bucket = "mlflow-artifacts", role = "roles/storage.objectUser" },
    # one new object per night (mlflow/mlflow-<UTC timestamp>.dump)
    { ksa = "mlflow-db-backup", bucket = "mlflow-backups", role = "roles/storage.objectCreator" },
  ]

  topic_grants = [
    { ksa = "webapp", topic = "predictions", role = "roles/pubsub.publisher" },
    { ksa = "webapp", topic = "corrections", role = "roles/pubsub.publisher" },
    { ksa = "data-job", topic = "dataset-versions", role = "roles/pubsub.publisher" },
    { ksa = "trainer", topic = "model-promotions", role = "roles/pubsub.publisher" },
    # the dispatcher reads its topic at start-up and dead-letters an event that is not a dataset version
    { ksa = "dispatcher", topic = "dataset-versions", role = "roles/pubsub.viewer" },
    { ksa = "dispatcher", topic = "dispatcher-dataset-versions-dead-letter", role = "roles/pubsub.publisher" },
    # dbapp's consumer reads its topics and subscriptions at start-up (common.bus gets before it would create)
    { ksa = "dbapp", topic = "predictions", role = "roles/pubsub.viewer" },
    { ksa = "dbapp", topic = "corrections", role = "roles/pubsub.viewer" },
    # the consumer publishes an event it can never store to its subscription's dead-letter topic, with the reason
    { ksa = "dbapp", topic = "dbapp-predictions-dead-letter", role = "roles/pubsub.publisher" },
    { ksa = "dbapp", topic = "dbapp-corrections-dead-letter", role = "roles/pubsub.publisher" },
    # the failover controller publishes each traffic decision (drain, restore, failover, failback)
    { ksa = "failover-controller", topic = "region-events", role = "roles/pubsub.publisher" },
    # attaching a subscription to a topic (mlapp creates one per process)
    { ksa = "mlapp", topic = "model-promotions", role = "roles/pubsub.subscriber" },
    # the pubsub-setup Job reads every topic and subscription it checks
    { ksa = "pubsub-setup", topic = "predictions", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", topic = "corrections", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", topic = "dataset-versions", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", topic = "model-promotions", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", topic = "region-events", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", topic = "dbapp-predictions-dead-letter", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", topic = "dbapp-corrections-dead-letter", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", topic = "dispatcher-dataset-versions-dead-letter", role = "roles/pubsub.viewer" },
  ]

  subscription_grants = [
    { ksa = "dbapp", subscription = "dbapp-predictions", role = "roles/pubsub.subscriber" },
    { ksa = "dbapp", subscription = "dbapp-corrections", role = "roles/pubsub.subscriber" },
    { ksa = "dbapp", subscription = "dbapp-predictions", role = "roles/pubsub.viewer" },
    { ksa = "dbapp", subscription = "dbapp-corrections", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", subscription = "dbapp-predictions", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", subscription = "dbapp-corrections", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", subscription = "dbapp-predictions-dead-letter", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", subscription = "dbapp-corrections-dead-letter", role = "roles/pubsub.viewer" },
    { ksa = "dispatcher", subscription = "dispatcher-dataset-versions", role = "roles/pubsub.subscriber" },
    { ksa = "dispatcher", subscription = "dispatcher-dataset-versions", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", subscription = "dispatcher-dataset-versions", role = "roles/pubsub.viewer" },
    { ksa = "pubsub-setup", subscription = "dispatcher-dataset-versions-dead-letter", role = "roles/pubsub.viewer" },
  ]

  # Project level only where the resource names are unknown in advance, with custom roles of just the
  # permissions needed.
  project_grants = [
    # mlapp creates, pulls from and deletes its own per-process subscription (mlapp-<host>-<pid>)
    { ksa = "mlapp", role = "hpPubsubOwnSubscriptions" },
  ]

  custom_roles = {
    hpPubsubOwnSubscriptions = {
      title       = "house-price: own per-process subscriptions"
      description = "Create, pull from and delete subscriptions (mlapp's per-process model-promotions subscriptions)."
      permissions = ["pubsub.subscriptions.consume", "pubsub.subscriptions.create", "pubsub.subscriptions.delete"]
    }
  }
}

resource "google_service_account" "workload" {
  for_each = local.workloads

  account_id   = "hp-${each.key}"
  display_name = "house-price ${each.key} (KSA ${each.value}/${each.key})"

  depends_on = [google_project_service.apis]
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each = local.workloads

  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${each.value}/${each.key}]"

  # the workload pool exists once the cluster does
  depends_on = [google_container_cluster.this]
}

resource "google_storage_bucket_iam_member" "workload" {
  for_each = { for g in local.bucket_grants : "${g.bucket}/${g.ksa}/${g.role}" => g }

  bucket = google_storage_bucket.this[each.value.bucket].name
  role   = each.value.role
  member = google_service_account.workload[each.value.ksa].member
}

resource "google_pubsub_topic_iam_member" "workload" {
  for_each = { for g in local.topic_grants : "${g.topic}/${g.ksa}/${g.role}" => g }

  project = var.project_id
  topic   = each.value.topic
  role    = each.value.role
  member  = google_service_account.workload[each.value.ksa].member

  depends_on = [google_pubsub_topic.events, google_pubsub_topic.dead_letter]
}

resource "google_pubsub_subscription_iam_member" "workload" {
  for_each = { for g in local.subscription_grants : "${g.subscription}/${g.ksa}/${g.role}" => g }

  project      = var.project_id
  subscription = each.value.subscription
  role         = each.value.role
  member       = google_service_account.workload[each.value.ksa].member

  depends_on = [google_pubsub_subscription.durable, google_pubsub_subscription.dead_letter]
}

resource "google_project_iam_member" "workload" {
  for_each = { for g in local.project_grants : "${g.ksa}/${g.role}" => g }

  project = var.project_id
  role    = google_project_iam_custom_role.this[each.value.role].id
  member  = google_service_account.workload[each.value.ksa].member
}

resource "google_project_iam_custom_role" "this" {
  for_each = local.custom_roles

  role_id     = each.key
  title       = each.value.title
  description = each.value.description
  permissions = each.value.permissions
}

# The GKE nodes' own account: logs, metrics and image pulls from this project's repository, nothing else.
resource "google_service_account" "nodes" {
  account_id   = "hp-gke-nodes"
  display_name = "house-price GKE nodes"

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "nodes" {
  project = var.project_id
  role    = "roles/container.defaultNodeServiceAccount"
  member  = google_service_account.nodes.member
}

resource "google_artifact_registry_repository_iam_member" "nodes" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.nodes.member
}
