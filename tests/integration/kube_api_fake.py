"""A stand-in Kubernetes API server, just enough for `kubectl create job --from=cronjob/...` and for the
dispatcher: discovery, GET of the CronJobs it holds, POST of Jobs (201, then 409 for a name it already has).

No real API server runs on this machine (no cluster, no envtest binaries); kubectl itself is the client we did
not write: the tests hold the dispatcher's Job to exactly what kubectl makes from the same CronJob."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "31", "gitVersion": "v1.31.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": "batch",
                "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
            }
        ],
    },
    "/apis/batch/v1": {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "batch/v1",
        "resources": [
            {"name": "cronjobs", "singularName": "cronjob", "namespaced": True, "kind": "CronJob", "verbs": ["get"]},
            {"name": "jobs", "singularName": "job", "namespaced": True, "kind": "Job", "verbs": ["create"]},
        ],
    },
}


class JsonHandler(BaseHTTPRequestHandler):
    """A stand-in API server's request handler: JSON answers, no access log."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class FakeApi:
    namespace: str
    cronjobs: dict[str, dict[str, Any]]
    url: str = ""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)  # the bearer token of every request, in order
    fail_with: int | None = None  # answer every request with this status (an API server in trouble)


@contextmanager
def fake_api(namespace: str, cronjobs: dict[str, dict[str, Any]]) -> Iterator[FakeApi]:
    state = FakeApi(namespace, cronjobs)
    prefix = f"/apis/batch/v1/namespaces/{namespace}"

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            path = self._seen()
            if state.fail_with:
                return self._answer(state.fail_with, {"kind": "Status", "code": state.fail_with})
            if path in DISCOVERY:
                return self._answer(200, DISCOVERY[path])
            name = path.removeprefix(prefix + "/cronjobs/")
            if path.startswith(prefix + "/cronjobs/") and name in state.cronjobs:
                return self._answer(200, state.cronjobs[name])
            return self._answer(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

        def do_POST(self) -> None:
            path = self._seen()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state.fail_with:
                return self._answer(state.fail_with, {"kind": "Status", "code": state.fail_with})
            if path != prefix + "/jobs":
                return self._answer(404, {"kind": "Status", "code": 404})
            name = body["metadata"]["name"]
            if name in state.jobs:
                return self._answer(409, {"kind": "Status", "code": 409, "reason": "AlreadyExists"})
            state.jobs[name] = body
            return self._answer(201, body)

        def _seen(self) -> str:
            state.tokens.append(self.headers.get("Authorization", ""))
            return self.path.split("?", 1)[0]

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
