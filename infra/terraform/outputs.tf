# What docs/deploy.md reads after `terraform apply` (`terraform output -raw <name>`).

output "region" {
  description = "The home region (the primary's): Artifact Registry, Cloud SQL's primary, the pipelines' _REGION."
  value       = local.home_region
}

output "primary_region" {
  description = "The primary region's name (regions.auto.tfvars.json): the config cluster, and where k8s_ml runs."
  value       = local.primary.name
}

output "cluster_name" {
  description = "The primary's cluster (the pipelines' _GKE_CLUSTER)."
  value       = google_container_cluster.this[local.primary.name].name
}

output "cluster_location" {
  value = google_container_cluster.this[local.primary.name].location
}

output "get_credentials" {
  description = "The command that points kubectl at the primary's cluster."
  value       = "gcloud container clusters get-credentials ${google_container_cluster.this[local.primary.name].name} --location ${google_container_cluster.this[local.primary.name].location} --project ${var.project_id}"
}

output "clusters" {
  description = "Region name -> its cluster, fleet membership and the command that points kubectl at it."
  value = {
    for name, cluster in google_container_cluster.this : name => {
      name            = cluster.name
      location        = cluster.location
      membership      = google_gke_hub_membership.this[name].id
      get_credentials = "gcloud container clusters get-credentials ${cluster.name} --location ${cluster.location} --project ${var.project_id}"
    }
  }
}

output "gateway_address" {
  description = "The multi-cluster Gateway's global address: the DNS A record of web_domain."
  value       = google_compute_global_address.gateway.address
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

output "sql_replicas" {
  description = "Region name -> the MLflow database's read replica there (the instance to promote if the home region is lost)."
  value       = { for name, replica in google_sql_database_instance.mlflow_replica : name => replica.name }
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
