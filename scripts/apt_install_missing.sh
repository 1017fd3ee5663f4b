#!/usr/bin/env bash
# Installs the Debian packages named as arguments (the callers pass only those that are missing). Needs root;
# without it, or without apt-get, says what is missing and exits 0: the tests that need them skip, saying why.
set -euo pipefail
[ $# -gt 0 ] || exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing Debian package(s): $* (install them as root with apt-get)" >&2
  exit 0
fi
echo "installing Debian package(s): $*"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
