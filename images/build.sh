#!/usr/bin/env bash
# `make images`: builds every deployable image (images/images.txt) from the repository root, tagged
# house-price/<name>:<commit> (short SHA, "-dirty" when the work tree has uncommitted changes) and
# house-price/<name>:latest. Uses docker when a daemon answers, podman otherwise (images/engine.sh). Where no
# container registry can be reached it first builds stand-in base images (images/standin_bases.sh); elsewhere
# the Dockerfiles' real bases are pulled. Layers are cached by the engine: an unchanged image rebuilds in seconds.
# Usage: images/build.sh [name ...]   (default: all; names as in images/images.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=images/engine.sh
source images/engine.sh
[ -n "$ENGINE" ] || { echo "error: $ENGINE_MISSING" >&2; exit 1; }

registry_reachable() {
  local code
  code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ || true)"
  [ "$code" != "000" ]
}
case "${IMAGES_BASE:-auto}" in
  standin) images/standin_bases.sh ;;
  registry) ;;
  auto) registry_reachable || { echo "no container registry reachable: using stand-in base images"; images/standin_bases.sh; } ;;
  *) echo "error: IMAGES_BASE must be auto, standin or registry (got '$IMAGES_BASE')" >&2; exit 2 ;;
esac

tag="$(git rev-parse --short=12 HEAD)"
[ -z "$(git status --porcelain --untracked-files=no)" ] || tag="$tag-dirty"
wanted=("$@")
built=0
while read -r folder name; do
  case "$folder" in ''|'#'*) continue ;; esac
  if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then
    continue
  fi
  start=$SECONDS
  log="$(mktemp)"
  if ! "$ENGINE" build --file "$folder/Dockerfile" --tag "house-price/$name:$tag" --tag "house-price/$name:latest" . </dev/null >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: building $name ($folder/Dockerfile) failed; the last lines are above" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  size="$("$ENGINE" image inspect --format '{{.Size}}' "house-price/$name:$tag")"
  printf 'built house-price/%s:%s  %4d MB  in %3d s\n' "$name" "$tag" "$((size / 1000000))" "$((SECONDS - start))"
  built=$((built + 1))
done < images/images.txt
[ "$built" -gt 0 ] || { echo "error: no image named ${wanted[*]} in images/images.txt" >&2; exit 2; }
