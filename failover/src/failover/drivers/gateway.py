"""GKE: the multi-cluster Gateway's HTTPRoute, through the Kubernetes API. Each region is one backendRef of the
route (by default `webapp-<region>`, the ServiceImport of that region's webapp); its `weight` is the region's share.

`set_weights` reads the route and sends one JSON patch (`application/json-patch+json`, what
`kubectl patch --type=json` sends) that first tests the route's resourceVersion and each backendRef's name at its
index, then replaces (or adds) each weight: a route changed in between is refused whole (the next round retries),
never half-applied. The calls go through `common.kubernetes_api`, which reads the token on every call (projected
tokens are rotated while the pod runs). The pod's Role allows only get and patch on this one HTTPRoute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from common.kubernetes_api import KubernetesClient
from failover.config import GatewayTarget
from failover.drivers.base import DriverError

GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
DEFAULT_WEIGHT = 1  # the Gateway API's weight of a backendRef that states none


def weight_patch(
    route: dict[str, Any], backends: Mapping[str, str], weights: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The JSON patch that gives each region's backendRef (in every rule that has it) the region's weight."""
    patch: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": route["metadata"].get("resourceVersion", "")}
    ]
    seen: set[str] = set()
    by_name = {backend: region for region, backend in backends.items()}
    for i, rule in enumerate(route.get("spec", {}).get("rules", [])):
        for j, ref in enumerate(rule.get("backendRefs", [])):
            region = by_name.get(ref.get("name", ""))
            if region is None or region not in weights:
                continue
            seen.add(region)
            path = f"/spec/rules/{i}/backendRefs/{j}"
            patch.append({"op": "test", "path": f"{path}/name", "value": ref["name"]})
            op = "replace" if "weight" in ref else "add"
            patch.append({"op": op, "path": f"{path}/weight", "value": int(weights[region])})
    missing = sorted(set(weights) - seen)
    if missing:
        names = ", ".join(f"{backends.get(r, '(none configured)')} ({r})" for r in missing)
        raise DriverError(f"HTTPRoute {route['metadata'].get('name')} has no backendRef named {names}")
    return patch


def route_weights(route: dict[str, Any], backends: Mapping[str, str]) -> dict[str, int]:
    """Each region's weight as the route states it (its first rule that names the region's backendRef)."""
    found: dict[str, int] = {}
    by_name = {backend: region for region, backend in backends.items()}
    for rule in route.get("spec", {}).get("rules", []):
        for ref in rule.get("backendRefs", []):
            region = by_name.get(ref.get("name", ""))
            if region is not None and region not in found:
                found[region] = int(ref.get("weight", DEFAULT_WEIGHT))
    missing = sorted(set(backends) - set(found))
    if missing:
        raise DriverError(f"HTTPRoute has no backendRef for {', '.join(missing)}")
    return {region: found[region] for region in backends}


class GatewayDriver:
    def __init__(self, target: GatewayTarget, timeout: float = 10.0) -> None:
        self.target = target
        self._api = KubernetesClient(target.kubernetes, timeout)
        self.url = target.kubernetes.resource_url(GATEWAY_API_VERSION, "httproutes", target.route)

    def _request(self, method: str, json: Any = None, content_type: str | None = None) -> requests.Response:
        try:
            answer = self._api.request(method, self.url, json=json, content_type=content_type)
        except (requests.RequestException, OSError) as exc:
            raise DriverError(f"Kubernetes API: {exc}") from exc
        if answer.status_code >= 400:
            raise DriverError(
                f"{method} HTTPRoute {self.target.route} answered {answer.status_code}: {answer.text[:300]}"
            )
        return answer

    def _route(self) -> dict[str, Any]:
        route: dict[str, Any] = self._request("GET").json()
        return route

    def current_weights(self) -> dict[str, int]:
        return route_weights(self._route(), self.target.backends)

    def set_weights(self, weights: Mapping[str, int]) -> None:
        patch = weight_patch(self._route(), self.target.backends, weights)
        self._request("PATCH", json=patch, content_type="application/json-patch+json")

    def close(self) -> None:
        self._api.close()
