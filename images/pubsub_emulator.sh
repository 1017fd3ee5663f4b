#!/usr/bin/env bash
# Builds house-price/pubsub-emulator (images/pubsub-emulator/Containerfile) from the Pub/Sub emulator of the
# installed Google Cloud CLI, for `make up-containers`. Skipped when the image exists already.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=images/engine.sh
source images/engine.sh
[ -n "$ENGINE" ] || { echo "error: $ENGINE_MISSING" >&2; exit 1; }
image=house-price/pubsub-emulator:latest
if "$ENGINE" image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
sdk="${CLOUDSDK_ROOT:-/usr/lib/google-cloud-sdk}"
if [ ! -x "$sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator" ] && command -v gcloud >/dev/null; then
  sdk="$(gcloud info --format='value(installation.sdk_root)')"
fi
emulator="$sdk/platform/pubsub-emulator"
[ -x "$emulator/bin/cloud-pubsub-emulator" ] || {
  echo "error: no Pub/Sub emulator in $emulator: install the Google Cloud CLI and its pubsub-emulator component" >&2
  exit 1
}
start=$SECONDS
"$ENGINE" build --quiet --file images/pubsub-emulator/Containerfile --tag "$image" "$emulator" >/dev/null
echo "built $image in $((SECONDS - start)) s"
