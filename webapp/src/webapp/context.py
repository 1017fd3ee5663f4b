"""What the request handlers share, kept on the Flask app: configuration, the service clients, the event bus,
the correction-token signer and the landing bucket (opened on first use)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from flask import current_app

from common.blobstore import BlobStore
from webapp.clients import DbappClient, MlappClient
from webapp.config import WebappConfig
from webapp.forms import CorrectionTokens
from webapp.limits import RateLimiter, UploadSlots
from webapp.outbox import Outbox
from webapp.publishing import EventBus

EXTENSION = "webapp"


@dataclass
class WebappContext:
    config: WebappConfig
    mlapp: MlappClient
    dbapp: DbappClient
    bus: EventBus
    tokens: CorrectionTokens
    open_landing: Callable[[], BlobStore]
    form_limiter: RateLimiter | None
    upload_slots: UploadSlots
    outbox: Outbox | None = None  # where the prediction form's events wait for the bus (OUTBOX_PATH)
    _landing: BlobStore | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def landing(self) -> BlobStore:
        with self._lock:
            if self._landing is None:
                self._landing = self.open_landing()
            return self._landing


def current() -> WebappContext:
    return cast(WebappContext, current_app.extensions[EXTENSION])
