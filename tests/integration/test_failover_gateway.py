"""The failover controller's GKE driver against a stand-in Kubernetes API server holding one HTTPRoute: it reads
each region's backendRef weight and sets them with one JSON patch guarded by `test` operations; kubectl itself
(`kubectl patch --local --type=json`) makes the same route from the same patch; a route changed in between, a
route without a region's backendRef and API faults are DriverErrors, and the token is sent on every call."""

from __future__ import annotations

import copy
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.kubernetes_api import KubernetesTarget
from failover.config import GatewayTarget
from failover.drivers.base import DriverError
from failover.drivers.gateway import GatewayDriver, route_weights, weight_patch
from tests import k8s_support as k8s
from tests.integration.kube_api_fake import JsonHandler

pytestmark = pytest.mark.integration
PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/web/httproutes/webapp"
BACKENDS = {"region-a": "webapp-region-a", "region-b": "webapp-region-b"}


def route() -> dict[str, Any]:
    """A multi-cluster Gateway's route: each region's webapp as a ServiceImport; the second rule has no weights."""
    refs = [
        {"group": "net.gke.io", "kind": "ServiceImport", "name": name, "port": 8080, "weight": weight}
        for name, weight in (("webapp-region-a", 100), ("webapp-region-b", 0))
    ]
    unweighted = [{k: v for k, v in ref.items() if k != "weight"} for ref in reversed(refs)]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "webapp", "namespace": "web", "resourceVersion": "7"},
        "spec": {
            "parentRefs": [{"name": "external", "kind": "Gateway"}],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": refs},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": unweighted},
            ],
        },
    }


def apply_json_patch(doc: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """The subset of RFC 6902 the driver sends (test, replace, add on object members), applied as the API server
    does: all or nothing."""
    result = copy.deepcopy(doc)
    for op in patch:
        *parents, last = [int(p) if p.isdigit() else p for p in op["path"].strip("/").split("/")]
        target: Any = result
        for part in parents:
            target = target[part]
        if op["op"] == "test":
            if target[last] != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        elif op["op"] in ("replace", "add"):
            if op["op"] == "replace" and last not in target:
                raise ValueError(f"replace of missing {op['path']}")
            target[last] = op["value"]
        else:
            raise ValueError(f"unexpected op {op['op']}")
    return result


@dataclass
class FakeApi:
    route: dict[str, Any]
    url: str = ""
    patches: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)  # (content type, patch)
    tokens: list[str] = field(default_factory=list)
    fail_with: int | None = None
    edit_after_get: bool = False  # another writer changes the route after each GET (a new resourceVersion)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    state = FakeApi(route())

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self._refused():
                return
            self._answer(200, state.route)
            if state.edit_after_get:
                version = state.route["metadata"]["resourceVersion"]
                state.route["metadata"]["resourceVersion"] = str(int(version) + 1)

        def do_PATCH(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self._refused():
                return
            state.patches.append((self.headers.get("Content-Type", ""), body))
            try:
                patched = apply_json_patch(state.route, body)
            except (ValueError, KeyError, IndexError) as exc:
                return self._answer(422, {"kind": "Status", "code": 422, "message": str(exc)})
            patched["metadata"]["resourceVersion"] = str(int(patched["metadata"]["resourceVersion"]) + 1)
            state.route = patched
            self._answer(200, patched)

        def _refused(self) -> bool:
            state.tokens.append(self.headers.get("Authorization", ""))
            if self.path.split("?")[0] != PATH:
                self._answer(404, {"kind": "Status", "code": 404})
                return True
            if state.fail_with:
                self._answer(state.fail_with, {"kind": "Status", "code": state.fail_with})
                return True
            return False

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def driver(api: FakeApi, account: Path, token: str = "token-1") -> GatewayDriver:
    account.mkdir(exist_ok=True)
    (account / "token").write_text(token)
    kubernetes = KubernetesTarget(api.url, "web", account / "token", account / "ca.crt")
    return GatewayDriver(GatewayTarget(kubernetes, "webapp", BACKENDS))


def test_reads_and_sets_each_regions_weight_with_one_guarded_patch(api: FakeApi, tmp_path: Path) -> None:
    gke = driver(api, tmp_path / "sa")
    assert gke.current_weights() == {"region-a": 100, "region-b": 0}
    gke.set_weights({"region-a": 0, "region-b": 100})
    assert gke.current_weights() == {"region-a": 0, "region-b": 100}
    ((content_type, patch),) = api.patches
    assert content_type == "application/json-patch+json"
    assert patch[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}
    rules = api.route["spec"]["rules"]
    assert [ref["weight"] for ref in rules[0]["backendRefs"]] == [0, 100]
    assert [(ref["name"], ref["weight"]) for ref in rules[1]["backendRefs"]] == [
        ("webapp-region-b", 100),
        ("webapp-region-a", 0),
    ]
    assert api.route["spec"]["parentRefs"] == route()["spec"]["parentRefs"]  # nothing else touched
    (tmp_path / "sa" / "token").write_text("token-2")  # rotated: read again on the next call
    gke.current_weights()
    assert set(api.tokens) == {"Bearer token-1", "Bearer token-2"}


def kubectl_patch(doc: dict[str, Any], patch: list[dict[str, Any]], folder: Path) -> subprocess.CompletedProcess[str]:
    """`kubectl patch --local --type=json`: kubectl's own JSON-patch implementation, no server."""
    k8s.kubectl()
    (folder / "route.yaml").write_text(yaml.safe_dump(doc))
    args = ["patch", "--local", "-f", str(folder / "route.yaml"), "--type=json", "-p", json.dumps(patch), "-o", "json"]
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=60, check=False)


def test_kubectl_makes_the_same_route_from_the_same_patch(tmp_path: Path) -> None:
    before = route()
    patch = weight_patch(before, BACKENDS, {"region-a": 0, "region-b": 100})
    proc = kubectl_patch(before, patch, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == apply_json_patch(before, patch)


def test_a_route_changed_in_between_is_refused_whole(api: FakeApi, tmp_path: Path) -> None:
    patch = weight_patch(route(), BACKENDS, {"region-a": 0, "region-b": 100})
    edited = route()
    edited["metadata"]["resourceVersion"] = "8"  # someone else's edit since the driver read the route
    assert kubectl_patch(edited, patch, tmp_path).returncode != 0
    reordered = route()
    reordered["spec"]["rules"][0]["backendRefs"].reverse()
    assert kubectl_patch(reordered, patch, tmp_path).returncode != 0
    api.edit_after_get = True
    with pytest.raises(DriverError, match="422"):
        driver(api, tmp_path / "sa").set_weights({"region-a": 0, "region-b": 100})
    assert route_weights(api.route, BACKENDS) == {"region-a": 100, "region-b": 0}


def test_a_route_without_a_regions_backend_and_api_faults_are_driver_errors(api: FakeApi, tmp_path: Path) -> None:
    gke = driver(api, tmp_path / "sa")
    with pytest.raises(DriverError, match=r"\(none configured\) \(region-c\)"):
        gke.set_weights({"region-a": 100, "region-c": 0})
    for rule in api.route["spec"]["rules"]:
        rule["backendRefs"] = [ref for ref in rule["backendRefs"] if ref["name"] != "webapp-region-b"]
    with pytest.raises(DriverError, match=r"no backendRef named webapp-region-b \(region-b\)"):
        gke.set_weights({"region-a": 100, "region-b": 0})
    assert api.patches == []
    api.fail_with = 403
    with pytest.raises(DriverError, match="403"):
        gke.current_weights()
    api.fail_with = None
    api.route["spec"]["rules"] = []
    with pytest.raises(DriverError, match="no backendRef"):
        gke.current_weights()
    unreachable = KubernetesTarget("http://127.0.0.1:9", "web", tmp_path / "sa" / "token", tmp_path)
    with pytest.raises(DriverError, match="Kubernetes API"):
        GatewayDriver(GatewayTarget(unreachable, "webapp", BACKENDS), timeout=1).current_weights()
