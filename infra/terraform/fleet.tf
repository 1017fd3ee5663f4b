# The fleet (this project is its host project): every region's cluster a member, Multi-cluster Services
# (ServiceExport in a member, ServiceImport everywhere) and the multi-cluster Gateway controller, whose config
# cluster is the primary's. The Gateway, its HTTPRoute (one weighted backend per region) and the per-region health
# checks are Kubernetes objects in k8s_web/overlays/gateway/ (generated from regions.auto.tfvars.json by
# scripts/render_region_overlays.py); here are the global address and the Google-managed certificate they name.
resource "google_gke_hub_membership" "this" {
  for_each = local.regions_by_name

  membership_id = google_container_cluster.this[each.key].name
  location      = each.value.region

  endpoint {
    gke_cluster {
      resource_link = "//container.googleapis.com/${google_container_cluster.this[each.key].id}"
    }
  }

  # fleet Workload Identity: the cluster's own token issuer
  authority {
    issuer = "https://container.googleapis.com/v1/${google_container_cluster.this[each.key].id}"
  }

  depends_on = [google_project_service.apis]
}

resource "google_gke_hub_feature" "multi_cluster_services" {
  name     = "multiclusterservicediscovery"
  location = "global"

  depends_on = [google_project_service.apis]
}

resource "google_gke_hub_feature" "multi_cluster_gateway" {
  name     = "multiclusteringress"
  location = "global"

  spec {
    multiclusteringress {
      config_membership = google_gke_hub_membership.this[local.primary.name].id
    }
  }

  depends_on = [google_gke_hub_feature.multi_cluster_services]
}

# Multi-cluster Services' importer (the KSA gke-mcs/gke-mcs-importer that GKE runs in every member) reads the
# VPC's network endpoints to build each ServiceImport.
resource "google_project_iam_member" "mcs_importer" {
  project = var.project_id
  role    = "roles/compute.networkViewer"
  member  = "serviceAccount:${var.project_id}.svc.id.goog[gke-mcs/gke-mcs-importer]"

  # the workload pool exists once a cluster does
  depends_on = [google_container_cluster.this, google_gke_hub_feature.multi_cluster_services]
}

# The multi-cluster Gateway controller's service agent reads the members' Gateway objects and attaches each
# region's network endpoint groups to the load balancer.
resource "google_project_iam_member" "multi_cluster_gateway" {
  #checkov:skip=CKV_GCP_42:Google's own multi-cluster Gateway service agent, not a workload account: GKE's setup for multi-cluster Gateways grants it roles/container.admin on the fleet host project.
  project = var.project_id
  role    = "roles/container.admin"
  member  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-multiclusteringress.iam.gserviceaccount.com"

  depends_on = [google_gke_hub_feature.multi_cluster_gateway]
}

# The Gateway's address (spec.addresses NamedAddress): the DNS record of var.web_domain points here.
resource "google_compute_global_address" "gateway" {
  name         = "house-price-gateway"
  address_type = "EXTERNAL"
  ip_version   = "IPV4"

  depends_on = [google_project_service.apis]
}

# The Gateway's certificate (listener option networking.gke.io/pre-shared-certs); Google issues it once the DNS
# record of var.web_domain points at the address above.
resource "google_compute_managed_ssl_certificate" "gateway" {
  name = "house-price-gateway"

  managed {
    domains = [var.web_domain]
  }

  depends_on = [google_project_service.apis]
}
