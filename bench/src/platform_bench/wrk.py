"""Load generation with wrk: POST a stream of distinct pre-generated bodies, read back one machine-readable line.

The bodies live in a file, one per line (`write_bodies`); `post_bodies.lua` formats them once per wrk thread
and cycles through them, each thread from its own offset, so a server never answers the same body twice in a
row. Its `done()` prints `WRK_RESULT {json}` (`parse_result`). Errors are wrk's socket errors (connect, read,
write, timeout) plus answers with a status above 399, which wrk counts itself.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")

LUA_SCRIPT = Path(__file__).with_name("post_bodies.lua")
RESULT_MARKER = "WRK_RESULT "
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
REQUEST_TIMEOUT_SECONDS = 10  # wrk's own default is 2 s, which would count a slow batch answer as an error


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. Latencies in milliseconds."""

    requests: int
    duration_seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int  # connect + read + write + timeout
    status_errors: int  # answers with a status above 399

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors


def parse_result(output: str) -> WrkResult:
    """The `WRK_RESULT` line of wrk's output -> WrkResult; ValueError when the line is missing."""
    line = next((raw for raw in output.splitlines() if raw.startswith(RESULT_MARKER)), None)
    if line is None:
        raise ValueError(f"wrk printed no {RESULT_MARKER.strip()} line:\n{output[-2000:]}")
    data: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
    errors, latency = data["errors"], data["latency_us"]
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        requests=data["requests"],
        duration_seconds=round(seconds, 3),
        requests_per_second=round(data["requests"] / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        status_errors=errors["status"],
    )


def write_bodies(path: Path, bodies: Iterable[str]) -> Path:
    """One body per line; a body must not contain a line break (compact JSON and form encoding never do)."""
    lines = list(bodies)
    for body in lines:
        if "\n" in body or "\r" in body:
            raise ValueError("a request body must fit on one line")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{body}\n" for body in lines))
    return path


def threads_for(connections: int, cores: int) -> int:
    """One wrk thread per core, never more threads than connections: wrk shares the machine with the server."""
    return max(1, min(connections, cores))


def run(
    url: str,
    bodies: Path,
    *,
    connections: int,
    threads: int,
    duration_seconds: float,
    content_type: str = JSON_TYPE,
    headers: Sequence[str] = (),
) -> WrkResult:
    """POST the bodies to `url` for `duration_seconds` with `connections` open connections."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_seconds))}s",
        f"--timeout={REQUEST_TIMEOUT_SECONDS}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
    ]
    for header in headers:
        cmd += ["-H", header]
    cmd += [url, "--", str(bodies), content_type, str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with code {done.returncode}: {done.stderr.strip() or done.stdout[-2000:]}")
    return parse_result(done.stdout)
