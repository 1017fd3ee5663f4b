#!/usr/bin/env bash
# Builds stand-ins for the two base images the Dockerfiles name, for machines that cannot reach a container
# registry (ours reach only PyPI and the Debian mirror):
#   docker.io/library/python:<PYTHON_TAG>  Debian bookworm (debootstrap, minbase) with python3, python3-venv,
#                                          ca-certificates and the host's extra CA certificates (HTTPS from
#                                          such machines goes through a re-signing proxy); Python is Debian's
#                                          3.11 in /usr/bin, so a Dockerfile must not hard-code /usr/local/bin.
#   ghcr.io/astral-sh/uv:<UV_VERSION>      FROM scratch with the `uv` binary from PyPI's uv wheel.
# Each is built only if the engine does not already hold it. Needs root (debootstrap). Usage:
#   images/standin_bases.sh            (ENGINE from images/engine.sh)
set -euo pipefail
# shellcheck source=images/engine.sh
source "$(dirname "$0")/engine.sh"
[ -n "$ENGINE" ] || { echo "error: $ENGINE_MISSING" >&2; exit 1; }

PYTHON_TAG="${PYTHON_TAG:-3.11.14-slim-bookworm}"
UV_VERSION="${UV_VERSION:-0.13.9}"
PYTHON_IMAGE="docker.io/library/python:$PYTHON_TAG"
UV_IMAGE="ghcr.io/astral-sh/uv:$UV_VERSION"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/standin-XXXXXX")"
trap 'rm -rf "$work"' EXIT

have() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

if have "$PYTHON_IMAGE"; then
  echo "stand-in $PYTHON_IMAGE: already built"
else
  command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  echo "stand-in $PYTHON_IMAGE: debootstrap bookworm from $MIRROR (about a minute)"
  start=$SECONDS
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,passwd \
    bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  shopt -s nullglob
  extra=(/usr/local/share/ca-certificates/*.crt)
  if [ ${#extra[@]} -gt 0 ]; then
    cp "${extra[@]}" "$work/rootfs/usr/local/share/ca-certificates/"
  fi
  chroot "$work/rootfs" update-ca-certificates >/dev/null 2>&1
  chroot "$work/rootfs" apt-get clean
  # like the official slim images: no documentation, manual pages or translations (about 50 MB)
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin \
    "$work/rootfs/usr/share/doc/"* "$work/rootfs/usr/share/man/"* "$work/rootfs/usr/share/info/"* \
    "$work/rootfs/usr/share/locale/"*
  tar -C "$work/rootfs" -c . | "$ENGINE" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$PYTHON_IMAGE" >/dev/null 2>"$work/import.log"
  echo "stand-in $PYTHON_IMAGE: built in $((SECONDS - start)) s"
fi

if have "$UV_IMAGE"; then
  echo "stand-in $UV_IMAGE: already built"
else
  echo "stand-in $UV_IMAGE: the uv binary from PyPI's uv $UV_VERSION wheel"
  # Any python3 on PATH with pip (inside `uv run` the first one is the project's venv, which has none).
  pip_python=""
  for candidate in $(type -ap python3 python3.11) /usr/bin/python3; do
    if "$candidate" -m pip --version >/dev/null 2>&1; then pip_python="$candidate"; break; fi
  done
  if [ -z "$pip_python" ]; then
    echo "no python3 with pip on PATH: cannot download the uv $UV_VERSION wheel for the stand-in uv image" >&2
    exit 1
  fi
  "$pip_python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/wheel" "uv==$UV_VERSION" 2>&1 \
    | { grep -v "is ignored" || true; }
  python3 -m zipfile -e "$work"/wheel/uv-*.whl "$work/unpacked"
  mkdir -p "$work/uv"
  install -m 0755 "$work/unpacked/uv-$UV_VERSION.data/scripts/uv" "$work/uv/uv"
  printf 'FROM scratch\nCOPY uv /uv\n' >"$work/uv/Containerfile"
  "$ENGINE" build --quiet -t "$UV_IMAGE" -f "$work/uv/Containerfile" "$work/uv" >/dev/null
  echo "stand-in $UV_IMAGE: built"
fi
