# Terraform and provider versions, the state backend and the provider settings.
#
# State lives in a GCS bucket created once by hand (README.md, "Before the first apply"); its name is given at
# `terraform init -backend-config="bucket=..."` so that no project id is written here. The ml pipeline
# (cloudbuild_1.yaml) runs `terraform init -backend=false` + `terraform validate`, which never reads the state.
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  backend "gcs" {
    prefix = "house-price/terraform"
  }
}

provider "google" {
  project = var.project_id
  region  = local.home_region

  default_labels = local.labels
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = {
    app        = "house-price"
    managed-by = "terraform"
  }
}
