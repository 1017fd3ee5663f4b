#!/usr/bin/env bash
# The web pipeline's deploy (cloudbuild_2.yaml, step `deploy`): run by bash in the cloud-sdk image (gcloud, kubectl,
# python3) from the build's workspace, the repository root, after the steps that pin the images and the project in
# the overlays.
#
# Overlay prod: every region of infra/terraform/regions.auto.tfvars.json, one at a time, the primary first and then
# the others in the file's order (cloudbuild/web_regions.py lists them with their clusters, named as
# infra/terraform/gke.tf names them). Each region's overlay, k8s_web/overlays/regions/<name> (the prod overlay plus
# that region's components), goes to that region's cluster and must roll out before the next region is touched: a
# release that fails in one region stops the build there, and the regions after it keep the release they run.
# Then the Gateway overlay, k8s_web/overlays/gateway, goes to the primary's cluster (the fleet's config cluster)
# only, with the HTTPRoute weights the failover controller holds kept (web_regions.py keep-weights).
# Any other overlay (dev): that overlay to the cluster _GKE_CLUSTER only.
#
# In each cluster: render the overlay once, refuse an Ingress naming a cert-manager ClusterIssuer the cluster lacks
# (before anything is applied), delete the overlay's Jobs (immutable) to re-create them, apply, then wait for every
# Deployment and StatefulSet with `kubectl rollout status` within ROLLOUT_TIMEOUT; the first one not ready fails
# the build, after printing its description and the namespace's pods and events.
#
# Environment, from the build's substitutions: PROJECT_ID, SHORT_SHA, OVERLAY, NAMESPACE, ROLLOUT_TIMEOUT, and
# GKE_CLUSTER and GKE_LOCATION (the primary's cluster). tests/unit/test_cloudbuild_regions.py runs this script
# against fake gcloud and kubectl (tests/cloudbuild_fakes.py).
set -euo pipefail
: "${PROJECT_ID:?}" "${SHORT_SHA:?}" "${OVERLAY:?}" "${NAMESPACE:?}" "${ROLLOUT_TIMEOUT:?}"
: "${GKE_CLUSTER:?}" "${GKE_LOCATION:?}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
workspace=$PWD
kube_dir=$(mktemp -d)
gateway=k8s_web/overlays/gateway

# Point kubectl at one cluster, through a kubeconfig of its own: no later call can reach the previous cluster.
use_cluster() {
  export KUBECONFIG="$kube_dir/$1"
  gcloud container clusters get-credentials "$1" --location "$2" --project "$PROJECT_ID"
}

# deploy_overlay OVERLAY CLUSTER LOCATION: apply the overlay there and wait for its rollout.
deploy_overlay() {
  local overlay=$1 cluster=$2 location=$3 rendered issuer workloads workload
  echo "=== $overlay -> cluster $cluster ($location)"
  use_cluster "$cluster" "$location"
  rendered="$workspace/rendered-${overlay//\//-}.yaml"
  kubectl kustomize "$overlay" > "$rendered"
  { grep -n "image:" "$rendered" || true; } | sort -u
  for issuer in $(grep -oE 'cert-manager.io/cluster-issuer: *[A-Za-z0-9.-]+' "$rendered" \
    | awk '{print $2}' | sort -u); do
    if ! kubectl get clusterissuer "$issuer" >/dev/null; then
      echo "ClusterIssuer $issuer does not exist in $cluster:" \
        "apply infra/k8s/cluster-issuers.yaml (docs/deploy.md)" >&2
      exit 1
    fi
  done
  kubectl get -f "$rendered" -o name --ignore-not-found | { grep '^job.batch/' || true; } \
    | xargs -r kubectl -n "$NAMESPACE" delete --wait=true
  kubectl apply -f "$rendered"
  workloads=$(kubectl get -f "$rendered" -o name | { grep -E '^(deployment|statefulset)\.apps/' || true; })
  if [ -z "$workloads" ]; then echo "$overlay defines no Deployment to wait for" >&2; exit 1; fi
  for workload in $workloads; do
    if ! kubectl -n "$NAMESPACE" rollout status "$workload" --timeout="$ROLLOUT_TIMEOUT"; then
      echo "$workload did not become ready within $ROLLOUT_TIMEOUT in cluster $cluster ($overlay)" >&2
      kubectl -n "$NAMESPACE" describe "$workload" >&2 || true
      kubectl -n "$NAMESPACE" get pods -o wide >&2 || true
      kubectl -n "$NAMESPACE" get events --sort-by=.lastTimestamp >&2 || true
      exit 1
    fi
  done
  echo "$overlay is deployed to $cluster at $SHORT_SHA"
}

# The Gateway and its routes, in the config cluster, keeping the weights the live HTTPRoute holds.
deploy_gateway() {
  local rendered="$workspace/rendered-${gateway//\//-}"
  echo "=== $gateway -> cluster $GKE_CLUSTER ($GKE_LOCATION), the config cluster"
  use_cluster "$GKE_CLUSTER" "$GKE_LOCATION"
  kubectl kustomize "$gateway" > "$rendered.yaml"
  kubectl create --dry-run=client -o json -f "$rendered.yaml" > "$rendered.json"
  kubectl get -f "$rendered.yaml" -o json --ignore-not-found > "$rendered.live.json"
  python3 "$here/web_regions.py" keep-weights "$rendered.live.json" < "$rendered.json" > "$rendered.apply.json"
  kubectl apply -f "$rendered.apply.json"
  echo "$gateway is applied to $GKE_CLUSTER"
}

if [ "$OVERLAY" != prod ]; then
  deploy_overlay "k8s_web/overlays/$OVERLAY" "$GKE_CLUSTER" "$GKE_LOCATION"
  exit 0
fi
targets=$(python3 "$here/web_regions.py" targets --cluster "$GKE_CLUSTER" --location "$GKE_LOCATION")
echo "regions to deploy (name, cluster, location), in this order:"
echo "$targets"
mapfile -t regions <<< "$targets"
for line in "${regions[@]}"; do
  read -r name cluster location <<< "$line"
  deploy_overlay "k8s_web/overlays/regions/$name" "$cluster" "$location"
done
deploy_gateway
echo "every region (${#regions[@]}) and the Gateway are deployed at $SHORT_SHA"
