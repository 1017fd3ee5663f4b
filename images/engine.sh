# Sourced by the image scripts: picks the container engine and exports ENGINE (docker or podman).
# docker when a Docker daemon answers; otherwise podman with this project's containers.conf. With neither,
# ENGINE is empty and ENGINE_MISSING says why (callers decide whether that is an error or a skip).
# shellcheck shell=bash
IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENGINE="${CONTAINER_ENGINE:-}"
ENGINE_MISSING=""
if [ -z "$ENGINE" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
  fi
fi
if [ "$ENGINE" = podman ]; then
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$IMAGES_DIR/containers.conf}"
  if ! podman info >/dev/null 2>&1; then
    ENGINE_MISSING="podman is installed but does not work here: $(podman info 2>&1 | tail -n 1)"
    ENGINE=""
  fi
elif [ -z "$ENGINE" ]; then
  ENGINE_MISSING="neither a Docker daemon nor podman is available (apt-get install podman runc)"
fi
export ENGINE ENGINE_MISSING
