"""The regions the web pipeline deploys (cloudbuild_2.yaml, step `deploy`, through cloudbuild/deploy_web.sh).

Runs in the build's cloud-sdk image with its python3 (standard library only), from the workspace (the repository
root), and reads the regions from infra/terraform/regions.auto.tfvars.json there, checked by scripts/region_plan.py
with the rules of infra/terraform/regions.tf.

    python3 cloudbuild/web_regions.py targets --cluster CLUSTER --location LOCATION
        One line per region, `<name> <cluster> <location>`: the primary first, then the others in the file's order.
        Each cluster is named as infra/terraform/gke.tf names it, `<cluster_name>-<region name>` in the region's GCP
        region. cluster_name is not in the regions file: it is what CLUSTER (the trigger's _GKE_CLUSTER, the
        primary's cluster: infra/terraform/cloudbuild.tf) has before `-<primary's name>`. Exit 2 when CLUSTER and
        LOCATION are not the primary's.
    python3 cloudbuild/web_regions.py keep-weights LIVE_JSON < RENDERED_JSON > OUT_JSON
        The Gateway overlay's objects (kubectl's JSON: a List or a stream of objects) as one List whose HTTPRoute
        `webapp` keeps the backendRef weights the live objects (LIVE_JSON, `kubectl get -f ... -o json`) hold: the
        failover controller sets them at run time, and a deploy must not move the traffic back. A backend the live
        route lacks (a new region) keeps its rendered weight; when none of the route's backends would keep any
        weight (no route yet, or only regions without traffic left), the rendered weights stand.

Results go to stdout for the shell script; what happened and why goes to stderr through `logging` (one JSON line
each, as the platform logs in CI; the build image has only the standard library, not `common.jsonlog`).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from region_plan import REGIONS_FILE, RegionPlan, load_plan

ROUTE = "webapp"  # the HTTPRoute of k8s_web/overlays/gateway/routes.yaml (the failover controller's)
log = logging.getLogger("web-regions")


class TargetsInvalid(ValueError):
    """The cluster the build was given is not the primary's of the regions file."""


def cluster_prefix(plan: RegionPlan, cluster: str, location: str) -> str:
    """Terraform's cluster_name, from the primary's cluster `<cluster_name>-<primary's name>`."""
    primary = plan.primary
    suffix = f"-{primary.name}"
    if not cluster.endswith(suffix) or cluster == suffix:
        raise TargetsInvalid(
            f"_GKE_CLUSTER {cluster!r} is not the primary's cluster <cluster_name>{suffix} "
            f"(infra/terraform/gke.tf names each region's cluster <cluster_name>-<region name>; "
            f"{primary.name} is primary in {REGIONS_FILE})"
        )
    if location != primary.region:
        raise TargetsInvalid(f"_GKE_LOCATION {location!r} is not the primary's region {primary.region!r}")
    return cluster.removesuffix(suffix)


def targets(plan: RegionPlan, cluster: str, location: str) -> list[tuple[str, str, str]]:
    """(region name, its cluster, the cluster's location), the primary first."""
    prefix = cluster_prefix(plan, cluster, location)
    return [(r.name, f"{prefix}-{r.name}", r.region) for r in (plan.primary, *plan.secondaries)]


def parse_objects(text: str) -> list[dict[str, Any]]:
    """kubectl's JSON output: one object, a List, or several documents one after the other."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return found
        value, position = decoder.raw_decode(text, position)
        found.extend((value.get("items") or []) if value.get("kind") == "List" else [value])


def _backend_refs(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [ref for rule in route.get("spec", {}).get("rules") or [] for ref in rule.get("backendRefs") or []]


def _route(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((o for o in objects if o.get("kind") == "HTTPRoute" and o["metadata"]["name"] == ROUTE), None)


def keep_weights(rendered: list[dict[str, Any]], live: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rendered objects, the route's weights taken from the live route where it has the backend."""
    objects = copy.deepcopy(rendered)
    route, live_route = _route(objects), _route(live)
    if route is None or live_route is None:
        return objects
    held = {ref["name"]: ref.get("weight", 1) for ref in _backend_refs(live_route)}
    refs = _backend_refs(route)
    kept = {ref["name"]: held.get(ref["name"], ref.get("weight", 1)) for ref in refs}
    if not any(kept.values()):
        log.info(f"HTTPRoute {ROUTE}: no backend would keep traffic; the rendered weights")
        return objects
    for ref in refs:
        ref["weight"] = kept[ref["name"]]
    log.info(f"HTTPRoute {ROUTE}: keeping the weights the route holds: {kept}")
    return objects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("targets", help="the regions to deploy, the primary first")
    listing.add_argument("--cluster", required=True, help="the primary's cluster (_GKE_CLUSTER)")
    listing.add_argument("--location", required=True, help="its location (_GKE_LOCATION)")
    weights = commands.add_parser("keep-weights", help="keep the live HTTPRoute's weights")
    weights.add_argument("live", type=Path, help="the live objects (kubectl get -f ... -o json)")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    if args.command == "keep-weights":
        objects = keep_weights(parse_objects(sys.stdin.read()), parse_objects(args.live.read_text()))
        sys.stdout.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=1) + "\n")
        return 0
    try:
        found = targets(load_plan(Path.cwd()), args.cluster, args.location)
    except TargetsInvalid as exc:
        log.error(str(exc))
        return 2
    except (OSError, ValueError) as exc:  # no file, not JSON, or a rule of regions.tf broken (RegionsInvalid)
        log.error(f"{REGIONS_FILE}: {exc}")
        return 2
    sys.stdout.write("".join(" ".join(line) + "\n" for line in found))
    return 0


class _JsonLines(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"severity": record.levelname, "logger": record.name, "message": record.getMessage()})


if __name__ == "__main__":
    sys.exit(main())
