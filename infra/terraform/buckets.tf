# The buckets the ConfigMaps name: gs://<project>-<key> (BUCKET_PREFIX in k8s_*/overlays/<env>/gcp-project.yaml,
# which Cloud Build sets to gs://$PROJECT_ID). All of them: uniform bucket-level access, public access prevented,
# object versioning; a replaced or deleted object stays recoverable for noncurrent_days. None is single-region
# (regions.tf): a dual-region of the two serving regions, or the continent's multi-region, so that every region
# reads them and the loss of one region loses no object.
locals {
  buckets = {
    # raw CSV uploads (webapp) and drops; the data job reads them and never changes them
    landing = { noncurrent_days = 30, delete_after_days = null }
    # committed dataset versions, instream batches and quarantine (the data job); read by the trainers
    datasets = { noncurrent_days = 30, delete_after_days = null }
    # MLflow run artifacts and models, written and served by the MLflow server only
    mlflow-artifacts = { noncurrent_days = 30, delete_after_days = null }
    # nightly pg_dump of the MLflow database (k8s_ml/base/mlflow-db-backup.yaml), kept 30 days
    mlflow-backups = { noncurrent_days = 7, delete_after_days = 30 }
  }
}

resource "google_storage_bucket" "this" {
  #checkov:skip=CKV_GCP_62:Access is audited with Cloud Audit Logs (data access logs can be turned on per project); legacy usage-log buckets are not used.
  for_each = local.buckets

  name          = "${var.project_id}-${each.key}"
  location      = local.bucket_location
  storage_class = "STANDARD"
  force_destroy = false

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  # the dual-region's two regions (absent: the multi-region itself)
  dynamic "custom_placement_config" {
    for_each = length(local.bucket_data_locations) == 2 ? [local.bucket_data_locations] : []
    content {
      data_locations = custom_placement_config.value
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = each.value.noncurrent_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  dynamic "lifecycle_rule" {
    for_each = each.value.delete_after_days == null ? [] : [each.value.delete_after_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.apis]
}
