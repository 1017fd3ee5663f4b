# One regional GKE cluster per region of regions.tf (control plane and nodes in three zones of that region), each
# with Workload Identity, Dataplane V2 (enforces the NetworkPolicies of k8s_web/ and k8s_ml/) and the Gateway API
# (the multi-cluster Gateway of fleet.tf lives in the primary's). Nodes are private (no external IP) and run as
# their own service account (iam.tf: logs, metrics, image pulls from the repository only). The primary's cluster
# also runs k8s_ml (MLflow, the data job, the trainers, the dispatcher); the others run k8s_web only.
resource "google_container_cluster" "this" {
  #checkov:skip=CKV_GCP_66:No Binary Authorization policy or attestor is set up; images come only from this project's repository, pushed by Cloud Build and pinned to a commit tag.
  #checkov:skip=CKV_GCP_65:Assumes no Google Groups (Cloud Identity/Workspace) for RBAC; people get access through IAM roles on the project.
  for_each = local.regions_by_name

  name     = "${var.cluster_name}-${each.key}"
  location = each.value.region

  network    = google_compute_network.vpc.id
  subnetwork = google_compute_subnetwork.gke[each.key].id

  # The cluster's default pool is replaced by the pool below (its own service account, GKE metadata server).
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = true

  networking_mode   = "VPC_NATIVE"
  datapath_provider = "ADVANCED_DATAPATH"

  # Dataplane V2 enforces NetworkPolicy itself; the separate (Calico) network policy add-on stays off.
  network_policy {
    enabled = false
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  # Gateway API CRDs and the GKE Gateway controller (the multi-cluster GatewayClasses come with fleet.tf's feature)
  gateway_api_config {
    channel = "CHANNEL_STANDARD"
  }

  release_channel {
    channel = "REGULAR"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
  }

  # The public endpoint answers Google Cloud's own addresses (Cloud Build's default pool deploys from there) and
  # the networks in var.control_plane_cidrs; everything else is refused before authentication.
  master_authorized_networks_config {
    gcp_public_cidrs_access_enabled = true

    dynamic "cidr_blocks" {
      for_each = var.control_plane_cidrs
      content {
        cidr_block   = cidr_blocks.value.cidr_block
        display_name = cidr_blocks.value.display_name
      }
    }
  }

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  enable_shielded_nodes       = true
  enable_intranode_visibility = true
  resource_labels             = local.labels

  node_config {
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    image_type      = "COS_CONTAINERD"

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }
  }

  lifecycle {
    # node_config only shapes the short-lived default pool; later edits belong to the apps pool below.
    ignore_changes = [node_config]
  }

  depends_on = [google_project_service.apis]
}

resource "google_container_node_pool" "apps" {
  for_each = local.regions_by_name

  name     = "apps"
  cluster  = google_container_cluster.this[each.key].id
  location = each.value.region

  initial_node_count = var.node_min_per_zone

  autoscaling {
    min_node_count = var.node_min_per_zone
    max_node_count = var.node_max_per_zone
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  upgrade_settings {
    max_surge       = 1
    max_unavailable = 0
  }

  node_config {
    machine_type    = var.node_machine_type
    disk_size_gb    = 100
    disk_type       = "pd-balanced"
    image_type      = "COS_CONTAINERD"
    service_account = google_service_account.nodes.email
    # Access is decided by IAM (the node account's roles, Workload Identity for pods), not by legacy scopes.
    oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    labels       = local.labels

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }
  }

  lifecycle {
    # The cluster autoscaler changes the node count; the pool's size is its min/max.
    ignore_changes = [initial_node_count]
  }
}
