# The event topics of common/src/common/events.py (ALL_TOPICS) and the durable subscriptions of its
# SUBSCRIPTIONS, each with a dead-letter topic (plus a subscription on it, so dead-lettered messages are kept) and
# a retry policy. mlapp's per-process subscriptions to model-promotions are created and deleted at run time by
# mlapp itself (1-day expiry) and are not here.
#
# k8s_ml/base/pubsub/subscriptions.json states the same subscriptions for the pubsub-setup Job, which checks them
# on every ml deploy (and creates them where Terraform does not run, e.g. against the emulator);
# tests/unit/test_terraform_pubsub.py proves the two agree value by value.
locals {
  # region-events: the failover controller's decisions (traffic.shifted); no platform subscription reads it
  topics = ["predictions", "corrections", "dataset-versions", "model-promotions", "region-events"]

  subscriptions = {
    dbapp-predictions = {
      topic                      = "predictions"
      ack_deadline_seconds       = 20
      message_retention_duration = "604800s"
      max_delivery_attempts      = 10
      minimum_backoff            = "10s"
      maximum_backoff            = "600s"
    }
    dbapp-corrections = {
      topic                      = "corrections"
      ack_deadline_seconds       = 20
      message_retention_duration = "604800s"
      max_delivery_attempts      = 10
      minimum_backoff            = "10s"
      maximum_backoff            = "600s"
    }
    dispatcher-dataset-versions = {
      topic                      = "dataset-versions"
      ack_deadline_seconds       = 20
      message_retention_duration = "604800s"
      max_delivery_attempts      = 10
      minimum_backoff            = "10s"
      maximum_backoff            = "600s"
    }
  }

  # Pub/Sub's service agent forwards undeliverable messages: it publishes to the dead-letter topic and must be
  # allowed to subscribe to (acknowledge on) the source subscription.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "events" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption keys; this project has no Cloud KMS key ring for customer-managed keys.
  for_each = toset(local.topics)

  name = each.key

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption keys; this project has no Cloud KMS key ring for customer-managed keys.
  for_each = local.subscriptions

  name = "${each.key}-dead-letter"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "durable" {
  for_each = local.subscriptions

  name                       = each.key
  topic                      = google_pubsub_topic.events[each.value.topic].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = each.value.message_retention_duration

  expiration_policy {
    ttl = ""
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = each.value.minimum_backoff
    maximum_backoff = each.value.maximum_backoff
  }

  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher]
}

# Where dead-lettered messages wait for a person: `gcloud pubsub subscriptions pull <name>-dead-letter`.
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.subscriptions

  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = each.value.message_retention_duration

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = each.value.minimum_backoff
    maximum_backoff = each.value.maximum_backoff
  }
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.subscriptions

  topic  = google_pubsub_topic.dead_letter[each.key].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.subscriptions

  subscription = google_pubsub_subscription.durable[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
