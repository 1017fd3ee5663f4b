# MLflow's backend store: Cloud SQL for PostgreSQL with a private IP only (reached from the cluster's VPC through
# private service access), daily backups with point-in-time recovery, TLS required, deletion protection both in
# Terraform and in the API. The mlflow user's password is generated here and goes only into Secret Manager
# (secrets.tf), inside the URI that the Kubernetes Secret mlflow-db carries.
resource "google_sql_database_instance" "mlflow" {
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY refuses every unencrypted connection; client certificates (TRUSTED_CLIENT_CERTIFICATE_REQUIRED) would need the Cloud SQL Auth Proxy beside MLflow and the backup, not set up. The instance has a private IP only.
  #checkov:skip=CKV_GCP_79:PostgreSQL 16 matches the backup's pg_dump (postgres:16.6 in k8s_ml/base) and the tested MLflow schema; upgrade the server, pg_dump and the tests together.
  name                = var.sql_instance_name
  database_version    = "POSTGRES_16"
  region              = var.region
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
