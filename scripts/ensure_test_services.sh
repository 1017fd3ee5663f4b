#!/usr/bin/env bash
# Start the machine's PostgreSQL if it is installed but not running (the MLflow-on-PostgreSQL tests use it),
# and check the Pub/Sub emulator's prerequisites, naming what is missing.
set -euo pipefail

if ! command -v java >/dev/null 2>&1; then
  echo "error: Java is not installed; the Pub/Sub emulator needs it (apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi
if [ ! -x /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator ] && ! command -v gcloud >/dev/null 2>&1; then
  echo "error: the Pub/Sub emulator is not installed (Google Cloud CLI with the pubsub-emulator component)" >&2
  exit 1
fi
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "error: PostgreSQL is not reachable on 127.0.0.1:5432 (the MLflow-on-PostgreSQL tests need it)" >&2
  exit 1
fi
