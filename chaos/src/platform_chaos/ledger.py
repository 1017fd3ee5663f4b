"""Every request the load sends, and what became of it: the ledger the verdict is drawn from.

A request is "accepted" when webapp answered it 2xx with an event id (a prediction answered without one was
priced but not recorded, and is retried). Each request's house carries its own street (`chaos <key>`), so the
stored documents can be counted per request: none is a loss, more than one a duplicate.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

STREET_PREFIX = "chaos "
COLLECTIONS = {"prediction": "collection_1", "correction": "collection_2"}


@dataclass
class Request:
    key: str
    kind: str  # prediction | correction
    phase: str  # the component being killed while it was sent
    sent_at: float
    status: int | None = None
    event_id: str | None = None
    attempts: int = 0
    refusals: list[str] = field(default_factory=list)  # every answer that was not an acceptance, in order

    @property
    def street(self) -> str:
        return f"{STREET_PREFIX}{self.key}"

    @property
    def accepted(self) -> bool:
        return self.status in (200, 202) and self.event_id is not None


@dataclass
class PhaseResult:
    phase: str
    kills: int = 0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    refused_then_stored: int = 0
    recovery_seconds: float | None = None
    note: str = ""
    refusals: Counter[str] = field(default_factory=Counter)  # "503: <reason>" or "no answer: <error>", counted


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self.phase = "warm-up"

    def new(self, key: str, kind: str) -> Request:
        request = Request(key=key, kind=kind, phase=self.phase, sent_at=time.monotonic())
        with self._lock:
            self._requests.append(request)
        return request

    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def verdict(self, stored: dict[str, dict[str, int]], phases: dict[str, PhaseResult]) -> dict[str, PhaseResult]:
        """Fill in accepted/lost/duplicated per phase from `stored` (collection -> street -> documents)."""
        for request in self.requests():
            result = phases.setdefault(request.phase, PhaseResult(request.phase))
            result.refusals.update(request.refusals)
            count = stored.get(COLLECTIONS[request.kind], {}).get(request.street, 0)
            if request.accepted:
                result.accepted += 1
                result.lost += count == 0
                result.duplicated += count > 1
            elif count:
                result.refused_then_stored += 1
        return phases
