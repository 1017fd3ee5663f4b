# The regions, stated once: regions.auto.tfvars.json (which Terraform loads by itself) holds the list, and
# scripts/render_region_overlays.py reads the same file to write the per-region Kubernetes overlays
# (k8s_web/overlays/regions/<name>/) and the multi-cluster Gateway's routes (k8s_web/overlays/gateway/).
#
# Everything regional is derived here: the home region (the primary's: Artifact Registry, Cloud SQL's primary,
# the provider default), the secondary regions (Cloud SQL read replicas), each region's address ranges, and the
# buckets' location. This file declares no resource, so that tests/unit/test_terraform_regions.py can evaluate it
# with `terraform console` and no provider.

variable "regions" {
  description = "The serving regions: name (a DNS label, used in resource names and the region label), region (the GCP region), primary (exactly one: the home region and the multi-cluster Gateway's config cluster) and network_index (0-15, the region's fixed slot in the address plan: never change or reuse it)."
  type = list(object({
    name          = string
    region        = string
    primary       = bool
    network_index = number
  }))

  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) <= 16
    error_message = "regions must list between 1 and 16 regions."
  }

  validation {
    condition     = length([for r in var.regions : r if r.primary]) == 1
    error_message = "exactly one region must be primary."
  }

  validation {
    condition = (
      length(distinct([for r in var.regions : r.name])) == length(var.regions) &&
      length(distinct([for r in var.regions : r.region])) == length(var.regions) &&
      length(distinct([for r in var.regions : r.network_index])) == length(var.regions)
    )
    error_message = "region names, GCP regions and network_index values must be unique."
  }

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", r.name))])
    error_message = "a region name is a DNS label of 2-20 lowercase letters, digits and hyphens."
  }

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^(europe|us|northamerica|asia)-[a-z]+[0-9]+$", r.region))])
    error_message = "region must be a GCP region in Europe, North America or Asia (the buckets' multi-regions EU, US, ASIA)."
  }

  validation {
    condition     = alltrue([for r in var.regions : r.network_index >= 0 && r.network_index <= 15 && floor(r.network_index) == r.network_index])
    error_message = "network_index must be an integer from 0 to 15."
  }
}

variable "web_domain" {
  description = "The public web host: the multi-cluster Gateway answers it (Google-managed certificate), each region's own Ingress answers <region name>.<web_domain>."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.web_domain))
    error_message = "web_domain must be a DNS name such as house-price.example.com."
  }
}

locals {
  regions_by_name   = { for r in var.regions : r.name => r }
  primary           = one([for r in var.regions : r if r.primary])
  home_region       = local.primary.region
  secondary_regions = { for r in var.regions : r.name => r if !r.primary }

  # Address plan (VPC-native clusters), one fixed slot per region (network_index), no overlap between regions or
  # kinds: nodes 10.10.<16*i>.0/20, services 10.11.<16*i>.0/20, pods a /14 each from 10.64.0.0/10. Private service
  # access (Cloud SQL) gets its /16 from Google outside these. scripts/region_plan.py computes the same ranges for
  # the NetworkPolicies between regions (MLflow's, mlapp's): tests/unit/test_region_overlays.py holds them equal.
  network_ranges = {
    for r in var.regions : r.name => {
      nodes    = cidrsubnet("10.10.0.0/16", 4, r.network_index)
      services = cidrsubnet("10.11.0.0/16", 4, r.network_index)
      pods     = cidrsubnet("10.64.0.0/10", 4, r.network_index)
    }
  }

  # Buckets survive the loss of a region: with exactly two regions on one continent, a configurable dual-region
  # of those two (turbo replication is not needed: the data job and trainers tolerate minutes of lag); otherwise
  # the continent's multi-region.
  multi_regions   = { europe = "EU", us = "US", northamerica = "US", asia = "ASIA" }
  continents      = distinct([for r in var.regions : local.multi_regions[split("-", r.region)[0]]])
  bucket_location = local.multi_regions[split("-", local.home_region)[0]]
  bucket_data_locations = (
    length(var.regions) == 2 && length(local.continents) == 1
    ? sort([for r in var.regions : upper(r.region)])
    : []
  )
}
