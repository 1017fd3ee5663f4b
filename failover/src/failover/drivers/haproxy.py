"""HAProxy through its runtime API (the `stats socket ... level admin` of its configuration): one server per
region in one backend, named like the region. `set weight <backend>/<server> <w>` changes a share at once,
without a reload; `show servers state <backend>` reads them back; `show stat` counts each server's answers.

Weights that rise are set before weights that fall, so no moment has every server at 0. A server's state
(ready, drain, maint) is left alone: an operator's `maint` wins over the controller's weights.
"""

from __future__ import annotations

import csv
import io
import socket
from collections.abc import Mapping
from typing import TypeVar

from failover.config import HaproxyTarget
from failover.drivers.base import DriverError, TrafficCount

ANSWERED = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
FAILED = ("econ", "eresp")  # connections the server refused or dropped, answers it never finished
T = TypeVar("T")


class HaproxyDriver:
    def __init__(self, target: HaproxyTarget, regions: list[str], timeout: float = 5.0) -> None:
        self.target, self.regions, self.timeout = target, regions, timeout

    def command(self, line: str) -> str:
        """Send one command and return HAProxy's whole answer (it closes the connection after one command)."""
        address = self.target.runtime_api
        try:
            if address.startswith("/") or ":" not in address:
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.settimeout(self.timeout)
                conn.connect(address)
            else:
                host, _, port = address.rpartition(":")
                conn = socket.create_connection((host.strip("[]"), int(port)), timeout=self.timeout)
            with conn:
                conn.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
        except (OSError, ValueError) as exc:
            raise DriverError(f"HAProxy runtime API {address}: {exc}") from exc
        return b"".join(chunks).decode(errors="replace")

    def set_weights(self, weights: Mapping[str, int]) -> None:
        current = self.current_weights()
        for region in sorted(weights, key=lambda r: weights[r] <= current.get(r, 0)):  # rises first
            answer = self.command(f"set weight {self.target.backend}/{region} {int(weights[region])}").strip()
            if answer:
                raise DriverError(f"HAProxy refused the weight of {self.target.backend}/{region}: {answer}")

    def current_weights(self) -> dict[str, int]:
        text = self.command(f"show servers state {self.target.backend}")
        lines = [line for line in text.splitlines() if line.strip()]
        header = next((line[1:].split() for line in lines if line.startswith("#")), None)
        if header is None or "srv_name" not in header or "srv_uweight" not in header:
            raise DriverError(f"unexpected answer to `show servers state {self.target.backend}`: {text[:200]!r}")
        name_at, weight_at = header.index("srv_name"), header.index("srv_uweight")
        found = {}
        for line in lines:
            fields = line.split()
            if not line.startswith("#") and len(fields) > max(name_at, weight_at):
                found[fields[name_at]] = int(fields[weight_at])
        return self._for_regions(found)

    def traffic(self) -> dict[str, TrafficCount]:
        text = self.command(f"show stat {self.target.backend} 4 -1")
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("# "))))
        counts = {}
        for row in rows:
            answered = sum(int(row.get(key) or 0) for key in ANSWERED)
            failed = sum(int(row.get(key) or 0) for key in FAILED)
            counts[row.get("svname", "")] = TrafficCount(answered + failed, int(row.get("hrsp_5xx") or 0) + failed)
        return self._for_regions(counts)

    def _for_regions(self, by_server: dict[str, T]) -> dict[str, T]:
        missing = [region for region in self.regions if region not in by_server]
        if missing:
            raise DriverError(
                f"HAProxy backend {self.target.backend} has no server named {', '.join(missing)} "
                "(one server per region, named like the region)"
            )
        return {region: by_server[region] for region in self.regions}

    def close(self) -> None:
        """Every command opens and closes its own connection."""
