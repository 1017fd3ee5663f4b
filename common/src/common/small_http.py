"""`/healthz` (the process answers), `/readyz` (the caller's `ready()` says) and `/metrics` (the default
prometheus_client registry), on one small threaded HTTP server: for the long-running workers with no other HTTP
surface (the retraining dispatcher, the failover controller), which need no web framework for three paths."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


def serve(host: str, port: int, ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """Start the server on a daemon thread; `ready()` decides `/readyz`. Call `.shutdown()` to stop it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/health"):
                self._answer(200, b'{"status": "ok"}\n', "application/json")
            elif path == "/readyz":
                ok = ready()
                body = b'{"status": "ready"}\n' if ok else b'{"status": "not ready"}\n'
                self._answer(200 if ok else 503, body, "application/json")
            else:
                self._answer(404, b'{"error": "not found"}\n', "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes and scrapes every few seconds would drown the log: not logged."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
