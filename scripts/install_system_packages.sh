#!/usr/bin/env bash
# Debian packages the test suite uses: chromium (browser tests through Playwright's Python package) and
# prometheus (its `promtool` checks the Prometheus config, alert rules and dashboard queries under k8s_web/) and
# wrk (the HTTP load generator of `make bench` and of the bench harness's smoke test).
# Installs only what is missing; needs root (CI and these machines run as root). Without root it says what is
# missing and continues: the tests that need it then skip with that reason.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing Debian package(s): ${missing[*]} (install them as root with apt-get)" >&2
  exit 0
fi
echo "installing Debian package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
