# The two pipelines' triggers (the same as cloudbuild/triggers/ml.yaml and web.yaml, which `gcloud builds triggers
# import` can use instead; tests/unit/test_terraform.py keeps name, filename and included_files equal) and the
# account both builds run as. The GitHub repository must be connected to Cloud Build first (1st-gen GitHub App,
# console only): README.md.
locals {
  pipelines = {
    ml = {
      name        = "house-price-ml"
      description = "ML tree: test, build data-job/trainer/dispatcher/mlflow-server, deploy k8s_ml (cloudbuild_1.yaml)"
      filename    = "cloudbuild_1.yaml"
      included_files = [
        "common/**",
        "data_collection_and_versioning/**",
        "models/**",
        "mlflow/**",
        "dispatcher/**",
        "k8s_ml/**",
        "infra/terraform/**",
        "cloudbuild_1.yaml",
        "uv.lock",
        "pyproject.toml",
      ]
    }
    web = {
      name        = "house-price-web"
      description = "Web tree: test, build webapp/mlapp/dbapp, deploy k8s_web (cloudbuild_2.yaml)"
      filename    = "cloudbuild_2.yaml"
      included_files = [
        "common/**",
        "webapp/**",
        "mlapp/**",
        "dbapp/**",
        "failover/**",
        "k8s_web/**",
        "cloudbuild_2.yaml",
        "cloudbuild/deploy_web.sh",
        "cloudbuild/web_regions.py",
        "scripts/region_plan.py",
        "infra/terraform/regions.auto.tfvars.json",
        "uv.lock",
        "pyproject.toml",
      ]
    }
  }
}

resource "google_service_account" "cloudbuild" {
  account_id   = "cloudbuild-deployer"
  display_name = "house-price Cloud Build deployer"

  depends_on = [google_project_service.apis]
}

# Deploying applies ClusterRoles and ClusterRoleBindings (Prometheus, kube-state-metrics), which
# roles/container.developer cannot create; the builds also write their logs. Granted on the project, the role
# reaches every region's cluster: the web pipeline deploys each region's overlay to that region's cluster and the
# multi-cluster Gateway to the primary's (cloudbuild/deploy_web.sh).
resource "google_project_iam_member" "cloudbuild" {
  for_each = toset(["roles/container.admin", "roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.cloudbuild.member
}

resource "google_artifact_registry_repository_iam_member" "cloudbuild" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.cloudbuild.member
}

# The ml pipeline's first-deploy bootstrap copies sample_dataset/data.csv into the landing bucket (once, no
# overwrite) when the model registry has no champion yet.
resource "google_storage_bucket_iam_member" "cloudbuild_landing" {
  for_each = toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])

  bucket = google_storage_bucket.this["landing"].name
  role   = each.value
  member = google_service_account.cloudbuild.member
}

resource "google_cloudbuild_trigger" "pipelines" {
  for_each = local.pipelines

  name            = each.value.name
  description     = each.value.description
  location        = "global"
  filename        = each.value.filename
  included_files  = each.value.included_files
  service_account = google_service_account.cloudbuild.id

  github {
    owner = var.github_owner
    name  = var.github_repo
    push {
      branch = var.trigger_branch
    }
  }

  substitutions = {
    # the home region's registry and the primary's cluster (k8s_ml runs there; the web pipeline deploys it and,
    # named from it as gke.tf names them, every other region's cluster: cloudbuild/web_regions.py)
    _REGION       = local.home_region
    _REPOSITORY   = google_artifact_registry_repository.images.repository_id
    _GKE_CLUSTER  = google_container_cluster.this[local.primary.name].name
    _GKE_LOCATION = google_container_cluster.this[local.primary.name].location
    _OVERLAY      = var.overlay
  }

  depends_on = [
    google_project_iam_member.cloudbuild,
    google_artifact_registry_repository_iam_member.cloudbuild,
  ]
}
