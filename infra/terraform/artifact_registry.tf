# The Docker repository the pipelines push to: ${home region}-docker.pkg.dev/${project}/${ar_repository}/<image>:<sha>
# (one repository, in the home region: every region's nodes pull from it).
# Versions older than 90 days are deleted unless among the 30 most recent (rollbacks stay possible).
resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption keys; this project has no Cloud KMS key ring for customer-managed keys.
  location      = local.home_region
  repository_id = var.ar_repository
  format        = "DOCKER"
  description   = "house-price platform images (tagged with the commit's short SHA)"

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 30
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "7776000s"
    }
  }

  depends_on = [google_project_service.apis]
}
