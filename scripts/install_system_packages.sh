#!/usr/bin/env bash
# Debian packages the test suite uses: chromium (browser tests through Playwright's Python package) and
# prometheus (its `promtool` checks the Prometheus config, alert rules and dashboard queries under k8s_web/, and
# `make up` runs its `prometheus` beside the local stack), prometheus-alertmanager (`amtool` checks
# alertmanager.yml; `make up` runs its alertmanager) wrk (the HTTP load generator of `make bench` and of the
# bench harness's smoke test) and haproxy (the global front of `make up-regions` and the failover drill).
# Installs only what is missing; needs root (CI and these machines run as root). Without root it says what is
# missing and continues: the tests that need it then skip with that reason.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
exec "$(dirname "$0")/apt_install_missing.sh" ${missing[@]+"${missing[@]}"}
