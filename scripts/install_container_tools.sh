#!/usr/bin/env bash
# The container engine the image targets use (`make images`, `make up-containers`, the image tests): nothing to
# do where a Docker daemon answers or podman is installed; otherwise podman from Debian's packages, with runc
# (crun rejects the cgroup layout of our CI machines), netavark and aardvark-dns (containers reach each other by
# name), iptables (netavark sets up every container network with it: without it each `podman run` and `RUN`
# step fails with "netavark: No such file or directory") and debootstrap (stand-in base images where no registry is reachable). Needs root; without it, says
# what is missing and continues (the image tests then skip with that reason).
set -euo pipefail
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  exit 0
fi
missing=()
for pair in podman:podman runc:runc netavark:/usr/lib/podman/netavark aardvark-dns:/usr/lib/podman/aardvark-dns iptables:/usr/sbin/iptables debootstrap:debootstrap; do
  package="${pair%%:*}" probe="${pair#*:}"
  if [[ "$probe" == /* ]]; then [ -x "$probe" ] || missing+=("$package"); else command -v "$probe" >/dev/null 2>&1 || missing+=("$package"); fi
done
exec "$(dirname "$0")/apt_install_missing.sh" ${missing[@]+"${missing[@]}"}
