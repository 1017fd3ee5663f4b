# MLflow's backend store: Cloud SQL for PostgreSQL in the home region with a private IP only (reached from every
# region's clusters through private service access), daily backups with point-in-time recovery, TLS required,
# deletion protection both in Terraform and in the API, and a cross-region read replica in every other region
# (promoted by hand when the home region is lost: docs/deploy.md, "Losing a region"). The mlflow user's password is
# generated here and goes only into Secret Manager (secrets.tf), inside the URI that the Kubernetes Secret
# mlflow-db carries.
resource "google_sql_database_instance" "mlflow" {
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY refuses every unencrypted connection; client certificates (TRUSTED_CLIENT_CERTIFICATE_REQUIRED) would need the Cloud SQL Auth Proxy beside MLflow and the backup, not set up. The instance has a private IP only.
  #checkov:skip=CKV_GCP_79:PostgreSQL 16 matches the backup's pg_dump (postgres:16.6 in k8s_ml/base) and the tested MLflow schema; upgrade the server, pg_dump and the tests together.
  name                = "${var.sql_instance_name}-${local.primary.name}"
  database_version    = "POSTGRES_16"
  region              = local.home_region
  deletion_protection = true

  settings {
    tier                        = var.sql_tier
    edition                     = "ENTERPRISE"
    availability_type           = var.sql_availability_type
    disk_autoresize             = true
    deletion_protection_enabled = true
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      # Clients must use TLS (psycopg2 and pg_dump do by default: sslmode=prefer; the URI asks sslmode=require).
      ssl_mode = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "03:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = 14
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled = true
    }

    # CIS PostgreSQL logging flags: connections, locks, temp files, durations and DDL (pgAudit); statement text
    # other than DDL is not logged (no data in logs).
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl"
    }
  }

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_sql_database" "mlflow" {
  name     = "mlflow"
  instance = google_sql_database_instance.mlflow.name
}

# Letters and digits only: the password goes into a URI unescaped.
resource "random_password" "mlflow_db" {
  length  = 32
  special = false
}

resource "google_sql_user" "mlflow" {
  name     = "mlflow"
  instance = google_sql_database_instance.mlflow.name
  password = random_password.mlflow_db.result
}

# A read replica of the MLflow database in every region but the home one: asynchronous replication across
# regions, private IP only, TLS required. When the home region is lost it is promoted to a standalone primary
# (`gcloud sql instances promote-replica`, then docs/deploy.md "Losing a region"); until then nothing writes to it.
resource "google_sql_database_instance" "mlflow_replica" {
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY refuses every unencrypted connection; client certificates (TRUSTED_CLIENT_CERTIFICATE_REQUIRED) would need the Cloud SQL Auth Proxy beside MLflow and the backup, not set up. The instance has a private IP only.
  #checkov:skip=CKV_GCP_79:PostgreSQL 16, the version of its primary: a replica runs the primary's version.
  #checkov:skip=CKV_GCP_14:Cloud SQL takes no backups of a read replica; the primary's backups and point-in-time recovery cover the data, and the promotion step turns backups on.
  for_each = local.secondary_regions

  name                 = "${var.sql_instance_name}-${each.key}"
  master_instance_name = google_sql_database_instance.mlflow.name
  database_version     = google_sql_database_instance.mlflow.database_version
  region               = each.value.region
  deletion_protection  = true

  replica_configuration {
    # a cross-region replica is promoted by hand (promote-replica), never a same-region failover target
    failover_target = false
  }

  settings {
    tier                        = var.sql_tier
    edition                     = "ENTERPRISE"
    availability_type           = "ZONAL"
    disk_autoresize             = true
    deletion_protection_enabled = true
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    insights_config {
      query_insights_enabled = true
    }

    # the primary's logging flags (a replica logs its own connections and statements)
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl"
    }
  }

  depends_on = [google_service_networking_connection.private_services]
}
