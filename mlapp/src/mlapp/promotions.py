"""What makes the holder look for a new champion: `model.promoted` events and alias polling.

Every process (each gunicorn worker, each replica) has its own Pub/Sub subscription to `model-promotions`, so
every one of them hears every promotion. The subscription is named after the host and process, created at
start and deleted at shutdown (with a one-day expiration policy in case the process dies without cleaning up).
An event only triggers a check of the alias: the alias is the truth, so a late or duplicated event can never
load an older version. Polling the alias every `MODEL_POLL_SECONDS` catches promotions whose event was lost,
and is all there is when no Pub/Sub project is configured.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import uuid

from google.api_core import exceptions as gexc

from common import bus
from common.events import TOPIC_MODEL_PROMOTIONS, Event
from mlapp.model_holder import ModelHolder

log = logging.getLogger(__name__)

PROMOTED = "model.promoted"
SUBSCRIPTION_TTL_SECONDS = 24 * 3600  # Pub/Sub's minimum expiration
NO_MODEL_RETRY_SECONDS = 5.0  # while nothing serves, check at least this often
MAX_BUS_BACKOFF_SECONDS = 60.0


def subscription_name(prefix: str = "mlapp") -> str:
    """`mlapp-<host>-<pid>-<random>`: unique per process, readable in the console, valid for Pub/Sub."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:80].strip("-") or "host"
    return f"{prefix}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class AliasPoller:
    """Checks the alias at start, then every `interval` seconds (every few seconds while nothing serves)."""

    def __init__(self, holder: ModelHolder, interval: float) -> None:
        self._holder = holder
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlapp-alias-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        trigger = "startup"
        while not self._stop.is_set():
            try:
                self._holder.refresh(trigger)
            except Exception:  # never let the poller die: it is the fallback for everything else
                log.exception("alias check crashed")
            trigger = "poll"
            wait = self._interval if self._holder.current else min(self._interval, NO_MODEL_RETRY_SECONDS)
            self._stop.wait(wait)


class PromotionSubscriber:
    """Pulls `model.promoted` events from this process's own subscription in a daemon thread."""

    def __init__(self, project: str, holder: ModelHolder, name: str | None = None) -> None:
        self.project = project
        self.name = name or subscription_name()
        self._holder = holder
        self._stop = threading.Event()
        self._lock = threading.Lock()  # orders creation against deletion at shutdown
        self._created = False
        self._thread = threading.Thread(target=self._run, name="mlapp-promotions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _ensure(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            try:
                bus.ensure_subscription(
                    self.project, self.name, TOPIC_MODEL_PROMOTIONS, expiration_ttl_seconds=SUBSCRIPTION_TTL_SECONDS
                )
            except gexc.NotFound:  # the topic does not exist yet (nobody has published a promotion)
                bus.ensure_topics(self.project, [TOPIC_MODEL_PROMOTIONS])
                bus.ensure_subscription(
                    self.project, self.name, TOPIC_MODEL_PROMOTIONS, expiration_ttl_seconds=SUBSCRIPTION_TTL_SECONDS
                )
            if not self._created:
                log.info("listening for promotions", extra={"subscription": self.name, "topic": TOPIC_MODEL_PROMOTIONS})
            self._created = True

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._ensure()
                bus.pull_forever(self.project, self.name, self.handle, self._stop, max_messages=10)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning(
                    "the promotions subscription failed; retrying in %.0f s (alias polling still runs)",
                    backoff,
                    extra={"subscription": self.name, "error": f"{type(exc).__name__}: {exc}"},
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BUS_BACKOFF_SECONDS)

    def handle(self, event: Event) -> None:
        """Check the alias on a promotion of our model. Never raises for a failed load: the holder counted and
        logged it, and redelivering the event would only repeat the failure (polling retries transient ones)."""
        if event.type != PROMOTED:
            return
        name = event.data.get("name")
        if name != self._holder.model_name:
            log.debug("promotion of another model ignored", extra={"event_id": event.event_id, "model_name": name})
            return
        log.info(
            "promotion event received",
            extra={"event_id": event.event_id, "model_name": name, "promoted_version": event.data.get("version")},
        )
        self._holder.refresh("event", event_id=event.event_id)

    def stop(self) -> None:
        """Stop pulling and delete this process's subscription (idempotent)."""
        with self._lock:
            self._stop.set()
            created, self._created = self._created, False
        if not created:
            return
        try:
            bus.delete_subscription(self.project, self.name)
            log.info("deleted the promotions subscription", extra={"subscription": self.name})
        except Exception as exc:
            log.warning(
                "could not delete the promotions subscription (it expires after a day unused)",
                extra={"subscription": self.name, "error": f"{type(exc).__name__}: {exc}"},
            )


class ModelRefresher:
    """Both triggers of one process, started and stopped together."""

    def __init__(self, holder: ModelHolder, poll_seconds: float, project: str | None) -> None:
        self.poller = AliasPoller(holder, poll_seconds)
        self.subscriber = PromotionSubscriber(project, holder) if project else None
        self._stopped = False

    def start(self) -> None:
        self.poller.start()
        if self.subscriber:
            self.subscriber.start()
        else:
            log.info("no Pub/Sub project (GCP_PROJECT / PUBSUB_EMULATOR_HOST unset): polling the alias only")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.poller.stop()
        if self.subscriber:
            self.subscriber.stop()
