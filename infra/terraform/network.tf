# The VPC (global): per region, a subnet for the GKE nodes with secondary ranges for pods and services (VPC-native
# clusters; ranges from regions.tf's address plan) and Private Google Access (private nodes reach Google APIs), a
# Cloud Router and Cloud NAT for the nodes' other egress (MongoDB Atlas, Let's Encrypt, public images); once,
# private service access for Cloud SQL's private IPs (the primary and its replicas, in any region).
resource "google_compute_network" "vpc" {
  name                    = "house-price"
  auto_create_subnetworks = false
  # routes learned by each region's Cloud Router are usable from every region
  routing_mode = "GLOBAL"

  depends_on = [google_project_service.apis]
}

# Ingress is denied unless a rule allows it (GKE adds its own rules for nodes, pods and load balancers at priority
# 1000); stated explicitly, with logging, instead of relying on the implied rule.
resource "google_compute_firewall" "deny_ingress" {
  name      = "house-price-deny-ingress"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "gke" {
  for_each = local.regions_by_name

  name                     = "house-price-gke-${each.key}"
  region                   = each.value.region
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = local.network_ranges[each.key].nodes
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = local.network_ranges[each.key].pods
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = local.network_ranges[each.key].services
  }

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Private service access: a /16 reserved in the VPC and peered with Google's service producer network, where the
# Cloud SQL instance gets its private IP.
resource "google_compute_global_address" "private_services" {
  name          = "house-price-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 16
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
  # Deleting the peering fails while Cloud SQL still uses it; on destroy it is left to go with the network.
  deletion_policy = "ABANDON"
}

resource "google_compute_router" "nat" {
  for_each = local.regions_by_name

  name    = "house-price-nat-${each.key}"
  region  = each.value.region
  network = google_compute_network.vpc.id
}

resource "google_compute_router_nat" "nat" {
  for_each = local.regions_by_name

  name                               = "house-price-nat-${each.key}"
  router                             = google_compute_router.nat[each.key].name
  region                             = each.value.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}
