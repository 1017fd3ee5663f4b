# Secret Manager holds the value of every Kubernetes Secret the manifests read (secretKeyRef, and the MLflow
# Ingress's basic-auth file). docs/deploy.md ("Kubernetes Secrets") creates each Kubernetes Secret from these with
# `gcloud secrets versions access`; tests/unit/test_terraform.py checks that every secretKeyRef of the rendered
# overlays is listed here and has its documented command.
locals {
  # "<namespace>/<Kubernetes Secret>" -> { <key> = <Secret Manager secret id> }
  k8s_secrets = {
    "ml/mlflow-db"         = { MLFLOW_BACKEND_STORE_URI = "mlflow-db-backend-store-uri" }
    "ml/mlflow-basic-auth" = { auth = "mlflow-basic-auth-htpasswd" }
    "web/webapp-secrets"   = { SECRET_KEY = "webapp-secret-key" }
    "web/api-tokens"       = { API_TOKENS = "api-tokens" } # prod overlay: webapp's /api/ writes and dbapp's /store
    "web/dbapp-mongo"      = { MONGO_URI = "dbapp-mongo-uri", MONGO_DB = "dbapp-mongo-db" }
    "web/grafana-admin"    = { admin-password = "grafana-admin-password" }
    # Alertmanager's receivers (files of a volume, k8s_web/base/alertmanager.yaml): critical pages PagerDuty,
    # warning goes to the webhook, both go to Slack
    "web/alertmanager-receivers" = {
      pagerduty-routing-key = "alertmanager-pagerduty-routing-key"
      slack-webhook-url     = "alertmanager-slack-webhook-url"
      webhook-url           = "alertmanager-webhook-url"
    }
    # only with the optional in-cluster MongoDB (k8s_web/components/mongodb)
    "web/mongodb-root" = {
      MONGO_INITDB_ROOT_USERNAME = "mongodb-root-username"
      MONGO_INITDB_ROOT_PASSWORD = "mongodb-root-password"
    }
  }

  # Every secret above, plus the MLflow UI password behind the htpasswd line (for people, not for a pod).
  secret_ids = concat(flatten([for entry in values(local.k8s_secrets) : values(entry)]), ["mlflow-basic-auth-password"])

  # Secrets whose value Terraform makes. The ones left get their version by hand (docs/deploy.md):
  # dbapp-mongo-uri (MongoDB Atlas or the in-cluster MongoDB), api-tokens (hashes of the API clients' tokens) and
  # the three alertmanager-* receivers (keys and URLs that PagerDuty, Slack and your webhook give you).
  generated_secret_ids = [
    "mlflow-db-backend-store-uri",
    "mlflow-basic-auth-htpasswd",
    "mlflow-basic-auth-password",
    "webapp-secret-key",
    "dbapp-mongo-db",
    "grafana-admin-password",
    "mongodb-root-username",
    "mongodb-root-password",
  ]

  generated_secret_values = {
    "mlflow-db-backend-store-uri" = "postgresql://${google_sql_user.mlflow.name}:${random_password.mlflow_db.result}@${google_sql_database_instance.mlflow.private_ip_address}:5432/${google_sql_database.mlflow.name}?sslmode=require"
    "mlflow-basic-auth-htpasswd"  = "mlflow-admin:${random_password.mlflow_ui.bcrypt_hash}\n"
    "mlflow-basic-auth-password"  = random_password.mlflow_ui.result
    "webapp-secret-key"           = random_password.webapp_secret_key.result
    "dbapp-mongo-db"              = var.mongo_db
    "grafana-admin-password"      = random_password.grafana_admin.result
    "mongodb-root-username"       = "root"
    "mongodb-root-password"       = random_password.mongodb_root.result
  }
}

resource "random_password" "mlflow_ui" {
  length  = 24
  special = false
}

resource "random_password" "webapp_secret_key" {
  length  = 64
  special = false
}

resource "random_password" "grafana_admin" {
  length  = 24
  special = false
}

resource "random_password" "mongodb_root" {
  length  = 32
  special = false
}

resource "google_secret_manager_secret" "this" {
  for_each = toset(local.secret_ids)

  secret_id = each.key

  # a replica in every serving region: the secrets stay readable when one region is lost
  replication {
    user_managed {
      dynamic "replicas" {
        for_each = var.regions
        content {
          location = replicas.value.region
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "generated" {
  for_each = toset(local.generated_secret_ids)

  secret      = google_secret_manager_secret.this[each.key].id
  secret_data = local.generated_secret_values[each.key]
}
