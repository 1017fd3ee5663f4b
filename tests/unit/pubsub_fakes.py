"""In-memory stand-ins for a Pub/Sub subscription, a dead-letter publisher and the stop event/clock of
`common.pull_loop.PullLoop`, so its decisions (ack, dead-letter, nack, how long to wait) are tested without time
passing. Imported explicitly by the unit tests that use them."""

from __future__ import annotations

from collections import Counter, deque

from google.pubsub_v1.types import PubsubMessage, PullResponse, ReceivedMessage

from common.dead_letters import Poison


class FakeSubscription:
    """Pull hands out queued messages (each delivery counts an attempt); a nack puts a message back at the end."""

    def __init__(self, *messages: PubsubMessage) -> None:
        self.queue: deque[PubsubMessage] = deque()
        self.by_id: dict[str, PubsubMessage] = {}
        self.attempts: Counter[str] = Counter()
        self.acked: list[str] = []
        self.nacked: list[str] = []
        self.pulls = 0
        for message in messages:
            self.add(message)

    def add(self, message: PubsubMessage) -> None:
        message.message_id = message.message_id or f"m-{len(self.by_id) + 1}"
        self.by_id[message.message_id] = message
        self.queue.append(message)

    def pull(self, request: dict, timeout: float) -> PullResponse:
        self.pulls += 1
        batch = []
        while self.queue and len(batch) < request["max_messages"]:
            message = self.queue.popleft()
            self.attempts[message.message_id] += 1
            attempt = self.attempts[message.message_id]
            batch.append(ReceivedMessage(ack_id=message.message_id, message=message, delivery_attempt=attempt))
        return PullResponse(received_messages=batch)

    def acknowledge(self, request: dict) -> None:
        self.acked += request["ack_ids"]

    def modify_ack_deadline(self, request: dict) -> None:
        assert request["ack_deadline_seconds"] == 0
        self.nacked += request["ack_ids"]
        self.queue.extend(self.by_id[ack_id] for ack_id in request["ack_ids"])


class FakeDeadLetters:
    """Records what would be published to the dead-letter topic; fails while `failing` is set."""

    topic_path = "projects/p/topics/sub-dead-letter"

    def __init__(self) -> None:
        self.published: list[tuple[PubsubMessage, Poison]] = []
        self.failing = False

    def publish(self, message: PubsubMessage, poison: Poison) -> str:
        if self.failing:
            raise RuntimeError("dead-letter topic unreachable")
        self.published.append((message, poison))
        return "dl-1"


class FakeClock:
    """The loop's `stop` event: `wait` records the delay and advances the clock instead of sleeping. The loop is
    stopped once `subscription` has nothing queued (or after `max_pulls`, so a broken loop cannot spin forever)."""

    def __init__(self, subscription: FakeSubscription, max_pulls: int = 100) -> None:
        self.subscription = subscription
        self.max_pulls = max_pulls
        self.now = 0.0
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return not self.subscription.queue or self.subscription.pulls >= self.max_pulls

    def wait(self, delay: float) -> bool:
        self.waits.append(delay)
        self.now += delay
        return self.subscription.pulls >= self.max_pulls


class RecordingListener:
    def __init__(self) -> None:
        self.dead_lettered_reasons: list[str] = []
        self.retried = 0

    def dead_lettered(self, poison: Poison) -> None:
        self.dead_lettered_reasons.append(poison.reason)

    def retrying(self, messages: int) -> None:
        self.retried += messages
