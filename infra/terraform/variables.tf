# Inputs. Only project_id, github_owner and github_repo have no default (terraform.tfvars.example).
# The regions are not here: regions.tf declares them and regions.auto.tfvars.json states them once. The home
# (primary) region there is the one the pipelines' defaults (cloudbuild_1.yaml, cloudbuild_2.yaml) and
# docs/deploy.md use.

variable "project_id" {
  description = "The Google Cloud project to build everything in (never committed: terraform.tfvars is ignored)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lowercase letters, digits and hyphens)."
  }
}

variable "cluster_name" {
  description = "Prefix of the GKE clusters' names: one cluster <cluster_name>-<region name> per region (the primary's is the pipelines' _GKE_CLUSTER)."
  type        = string
  default     = "house-price"
}

variable "ar_repository" {
  description = "Artifact Registry Docker repository (the pipelines' _REPOSITORY)."
  type        = string
  default     = "house-price"
}

variable "node_machine_type" {
  description = "Machine type of the apps node pool (prod: mlapp asks 1 CPU and 1.5 GiB per replica, 3 replicas)."
  type        = string
  default     = "e2-standard-4"
}

variable "node_min_per_zone" {
  description = "Autoscaling minimum of the apps node pool, per zone (a regional cluster has three zones)."
  type        = number
  default     = 1
}

variable "node_max_per_zone" {
  description = "Autoscaling maximum of the apps node pool, per zone."
  type        = number
  default     = 3
}

variable "control_plane_cidrs" {
  description = "Extra networks (besides Google Cloud's public ranges, which Cloud Build uses) allowed to reach the GKE control plane, e.g. your office."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []
}

variable "sql_instance_name" {
  description = "Prefix of the Cloud SQL instances of the MLflow backend store: <sql_instance_name>-<region name> (the primary in the home region, a read replica in each other region)."
  type        = string
  default     = "house-price-mlflow"
}

variable "sql_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-1-3840"
}

variable "sql_availability_type" {
  description = "ZONAL, or REGIONAL for a standby in a second zone."
  type        = string
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.sql_availability_type)
    error_message = "sql_availability_type must be ZONAL or REGIONAL."
  }
}

variable "mongo_db" {
  description = "MongoDB database name for dbapp (the Secret dbapp-mongo, key MONGO_DB)."
  type        = string
  default     = "house_prices"
}

variable "github_owner" {
  description = "Owner of the GitHub repository connected to Cloud Build (1st-gen GitHub App connection)."
  type        = string
}

variable "github_repo" {
  description = "Name of that GitHub repository."
  type        = string
}

variable "trigger_branch" {
  description = "Branch regex whose pushes run the pipelines."
  type        = string
  default     = "^main$"
}

variable "overlay" {
  description = "Kustomize overlay the triggers deploy (k8s_*/overlays/<overlay>): prod or dev."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["prod", "dev"], var.overlay)
    error_message = "overlay must be prod or dev."
  }
}
