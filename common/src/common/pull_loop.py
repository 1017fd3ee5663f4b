"""The synchronous pull loop behind `common.bus.pull_forever`: what happens to each message, and how the loop
backs off after a fault.

Each message ends one of three ways:
  - handled: the handler returned; it is acked (only then, so a crash before the write committed means
    redelivery, never loss);
  - poison: it can never be processed (not an envelope, or the handler raised `Poison`); it is published unchanged
    to the subscription's dead-letter topic and acked only once that publish succeeded. Without a dead-letter topic
    (mlapp's per-process subscriptions, whose events only trigger a check) it is logged and acked;
  - transient fault: anything else the handler raised (the database is down), or a failed dead-letter publish; it
    and the rest of its batch are nacked, so Pub/Sub redelivers them, spaced by the subscription's retry policy.

When `stop` is set the loop drains before it returns: it keeps settling what the subscription still holds until a
pull comes back empty (or `DRAIN_SECONDS` pass). Producers stop first (`make up` stops webapp before dbapp's
consumer; on Kubernetes the consumer drains within the pod's grace period), so an event accepted just before a
shutdown is stored, not left in an in-memory emulator that is about to stop.

After a transient fault the loop waits (1 s, doubling up to 60 s, back to 1 s after the next handled message)
and, when given a `ready` check, does not pull again until the check passes: each delivery spends one of the
message's `max_delivery_attempts` (Pub/Sub dead-letters it after the last), so a long database outage must not
be spent on deliveries that are sure to fail. Storage faults are therefore never dead-lettered by this loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage

from common.backoff import Backoff
from common.dead_letters import DeadLetterPublisher, Poison
from common.events import Event, EventInvalid

log = logging.getLogger("common.bus")

Handler = Callable[[Event], None]
PULL_TIMEOUT_SECONDS = 2.0  # a pull waits this long for messages: the loop notices `stop` within about this time
# (5 s made every stop of dbapp's consumer and of the dispatcher take ~4 s; an idle pull every 2 s costs nothing)
DRAIN_PULL_SECONDS = 2.0  # while draining, a pull that finds nothing within this long means the subscription is empty
DRAIN_SECONDS = 20.0  # at most this long draining (dbapp's pod has 30 s between SIGTERM and SIGKILL)


class PullListener(Protocol):
    """What a consumer counts (dbapp: Prometheus counters labelled with the subscription)."""

    def dead_lettered(self, poison: Poison) -> None:
        """A poison message was published to the dead-letter topic (and is being acked)."""

    def retrying(self, messages: int) -> None:
        """`messages` were nacked after a transient fault and will be redelivered."""


class PullLoop:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        subscription: str,
        path: str,
        handler: Handler,
        stop: threading.Event,
        *,
        dead_letters: DeadLetterPublisher | None = None,
        ready: Callable[[], None] | None = None,
        listener: PullListener | None = None,
        backoff: Backoff | None = None,
        max_messages: int = 50,
    ) -> None:
        self._subscriber, self._path, self._handler, self._stop = subscriber, path, handler, stop
        self._dead_letters, self._ready, self._listener = dead_letters, ready, listener
        self._backoff = backoff or Backoff(initial=1.0, maximum=60.0)
        self._max_messages = max_messages
        self._log = {"subscription": subscription}

    def run(self) -> None:
        """Pull until `stop` is set, then drain."""
        while not self._stop.is_set():
            received = self._pull(PULL_TIMEOUT_SECONDS)
            if received and not self._process(received):
                self._recover()
        self._drain()

    def _pull(self, timeout: float) -> list[ReceivedMessage]:
        try:
            response = self._subscriber.pull(
                request={"subscription": self._path, "max_messages": self._max_messages}, timeout=timeout
            )
        except (gexc.DeadlineExceeded, gexc.ServiceUnavailable, gexc.RetryError):
            return []  # nothing within the timeout, or the bus is unreachable (the client retried meanwhile)
        return list(response.received_messages)

    def _drain(self) -> None:
        """Settle what the subscription still holds, until a pull finds nothing, a fault, or DRAIN_SECONDS."""
        deadline, settled = time.monotonic() + DRAIN_SECONDS, 0
        while time.monotonic() < deadline:
            received = self._pull(DRAIN_PULL_SECONDS)
            if not received or not self._process(received):
                break
            settled += len(received)
        log.info("stopped pulling; drained what was waiting", extra={**self._log, "drained": settled})

    def _process(self, received: Sequence[ReceivedMessage]) -> bool:
        """Settle a batch in order; False after a transient fault. The rest of the batch then goes back unhandled:
        what failed one message (a database outage) would very likely fail the next ones too."""
        done = 0
        for item in received:
            if not self._settle(item):
                break
            done += 1
        acks = [item.ack_id for item in received[:done]]
        back = [item.ack_id for item in received[done:]]
        if acks:
            self._subscriber.acknowledge(request={"subscription": self._path, "ack_ids": acks})
        if back:
            self._subscriber.modify_ack_deadline(
                request={"subscription": self._path, "ack_ids": back, "ack_deadline_seconds": 0}
            )
            if self._listener:
                self._listener.retrying(len(back))
        return not back

    def _settle(self, item: ReceivedMessage) -> bool:
        """True when `item` may be acked (handled or dead-lettered), False after a transient fault."""
        ids = {**self._log, "message_id": item.message.message_id, "delivery_attempt": item.delivery_attempt}
        try:
            try:
                event = Event.from_json(item.message.data)
            except EventInvalid as exc:
                raise Poison("invalid-envelope", str(exc)) from None
            self._handler(event)
        except Poison as poison:
            return self._dead_letter(item, poison, ids)
        except Exception:
            log.exception("handler failed; the message will be redelivered", extra=ids)
            return False
        self._backoff.reset()
        return True

    def _dead_letter(self, item: ReceivedMessage, poison: Poison, ids: dict[str, object]) -> bool:
        extra = {**ids, "reason": poison.reason, "detail": poison.detail}
        if self._dead_letters is None:
            log.error("poison message dropped: this subscription has no dead-letter topic", extra=extra)
            return True
        try:
            self._dead_letters.publish(item.message, poison)
        except Exception:
            log.exception("could not publish to the dead-letter topic; the message will be redelivered", extra=extra)
            return False
        log.warning(f"poison message moved to {self._dead_letters.topic_path}", extra=extra)
        if self._listener:
            self._listener.dead_lettered(poison)
        return True

    def _recover(self) -> None:
        """Wait before pulling again after a transient fault; with a `ready` check, until it passes."""
        delay = self._backoff.next_delay()
        log.warning(f"transient fault; pulling again in {delay:g} s", extra=self._log)
        while not self._stop.wait(delay):
            if self._ready is None:
                return
            try:
                self._ready()
                return
            except Exception as exc:
                delay = self._backoff.next_delay()
                log.warning(f"still not ready ({exc}); next check in {delay:g} s", extra=self._log)
