# What docs/deploy.md reads after `terraform apply` (`terraform output -raw <name>`).

output "region" {
  description = "The region of everything regional."
  value       = var.region
}

output "cluster_name" {
  value = google_container_cluster.this.name
}

output "cluster_location" {
  value = google_container_cluster.this.location
}

output "get_credentials" {
  description = "The command that points kubectl at the cluster."
  value       = "gcloud container clusters get-credentials ${google_container_cluster.this.name} --location ${google_container_cluster.this.location} --project ${var.project_id}"
}

output "image_registry" {
  description = "Where the pipelines push: <registry>/<image>:<short sha>."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "buckets" {
  description = "Bucket URLs by role, as the ConfigMaps name them."
  value       = { for key, bucket in google_storage_bucket.this : key => bucket.url }
}

output "sql_instance" {
  value = google_sql_database_instance.mlflow.name
}

output "sql_private_ip" {
  value = google_sql_database_instance.mlflow.private_ip_address
}

output "workload_service_accounts" {
  description = "KSA (namespace/name) -> Google service account e-mail."
  value       = { for ksa, ns in local.workloads : "${ns}/${ksa}" => google_service_account.workload[ksa].email }
}

output "k8s_secrets" {
  description = "Kubernetes Secret (namespace/name) -> key -> Secret Manager secret id."
  value       = local.k8s_secrets
}

output "secrets_without_value" {
  description = "Secret Manager secrets that need a version added by hand (docs/deploy.md)."
  value       = sort(tolist(setsubtract(toset(local.secret_ids), toset(local.generated_secret_ids))))
}

output "cloudbuild_service_account" {
  value = google_service_account.cloudbuild.email
}

output "triggers" {
  value = { for key, trigger in google_cloudbuild_trigger.pipelines : key => trigger.name }
}
