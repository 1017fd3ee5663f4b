"""`common.pull_loop`: a handled message is acked, a poison one is dead-lettered (and acked only once that
worked), a transient fault sends the message back and the loop waits longer after each consecutive fault, without
pulling while its `ready` check fails. Driven by in-memory fakes and a fake clock (tests/unit/pubsub_fakes.py)."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from google.pubsub_v1.types import PubsubMessage

from common.backoff import Backoff
from common.contracts.dead_letters import DeadLetterAttributes
from common.dead_letters import DeadLetterPublisher, Poison, truncate_utf8
from common.events import Event
from common.pull_loop import PullLoop
from tests.unit.pubsub_fakes import FakeClock, FakeDeadLetters, FakeSubscription, RecordingListener


def message(event: Event | None = None, data: bytes | None = None, **attributes: str) -> PubsubMessage:
    payload = data if data is not None else (event or Event("correction.submitted", {"x": 1})).to_json()
    return PubsubMessage(data=payload, attributes=attributes)


def run(subscription, handler, *, dead_letters=None, ready=None, max_messages=50):
    clock, listener = FakeClock(subscription), RecordingListener()
    loop = PullLoop(
        subscription,
        "sub",
        "projects/p/subscriptions/sub",
        handler,
        clock,
        dead_letters=dead_letters,
        ready=ready,
        listener=listener,
        max_messages=max_messages,
    )
    loop.run()
    return clock, listener


def test_backoff_doubles_up_to_its_maximum_and_resets():
    backoff = Backoff(initial=1.0, maximum=60.0)
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1
    with pytest.raises(ValueError):
        Backoff(initial=0)


def test_a_handled_message_is_acked_without_waiting():
    subscription = FakeSubscription(message())
    seen = []
    clock, listener = run(subscription, seen.append)
    assert len(seen) == 1 and subscription.acked == ["m-1"] and subscription.nacked == []
    assert clock.waits == [] and listener.retried == 0


def test_poison_is_dead_lettered_unchanged_then_acked_and_never_handled_again():
    bad_data = Event("correction.submitted", {"x": 1})
    subscription = FakeSubscription(message(data=b"not json", origin="test"), message(bad_data), message())
    dead = FakeDeadLetters()

    def handler(event: Event) -> None:
        if event.event_id == bad_data.event_id:
            raise Poison("invalid-data", "corrected_price: is required", event.type)

    clock, listener = run(subscription, handler, dead_letters=dead)
    assert subscription.acked == ["m-1", "m-2", "m-3"] and subscription.nacked == []
    assert [(m.data, dict(m.attributes)) for m, _ in dead.published] == [
        (b"not json", {"origin": "test"}),
        (bad_data.to_json(), {}),
    ]
    assert [p.reason for _, p in dead.published] == ["invalid-envelope", "invalid-data"]
    assert listener.dead_lettered_reasons == ["invalid-envelope", "invalid-data"]
    assert clock.waits == []  # poison is no fault of the bus or the store: nothing to back off from


def test_without_a_dead_letter_topic_poison_is_logged_and_acked(caplog):
    subscription = FakeSubscription(message(data=b"{}"))
    _, listener = run(subscription, lambda e: None)
    assert subscription.acked == ["m-1"] and listener.dead_lettered_reasons == []
    assert any("no dead-letter topic" in m for m in caplog.messages)


def test_a_failed_dead_letter_publish_is_not_acked_but_retried():
    subscription = FakeSubscription(message(data=b"not json"))
    dead = FakeDeadLetters()
    dead.failing = True
    pulls_before_recovery = 3

    def recover() -> None:  # the ready check: the dead-letter topic comes back after a while
        if subscription.pulls >= pulls_before_recovery:
            dead.failing = False

    clock, listener = run(subscription, lambda e: None, dead_letters=dead, ready=recover)
    assert subscription.nacked == ["m-1"] * pulls_before_recovery
    assert subscription.acked == ["m-1"] and len(dead.published) == 1
    assert listener.retried == pulls_before_recovery and listener.dead_lettered_reasons == ["invalid-envelope"]
    assert clock.waits == [1, 2, 4]


def test_a_transient_fault_sends_the_rest_of_the_batch_back_and_backs_off_until_ready():
    subscription = FakeSubscription(message(), message(), message())
    store = {"up": True, "pings": 0}
    handled = []

    def handler(event: Event) -> None:
        if len(handled) == 1 and store["up"] and not store["pings"]:
            store["up"] = False  # the database goes down while the second message is handled
        if not store["up"]:
            raise RuntimeError("database unavailable")
        handled.append(event.event_id)

    def ping() -> None:
        store["pings"] += 1
        if store["pings"] < 4:
            raise RuntimeError("database unavailable")
        store["up"] = True

    clock, listener = run(subscription, handler, ready=ping)
    # The first message was stored and acked; the second failed, so it and the third went back together.
    assert subscription.acked[0] == "m-1" and subscription.nacked == ["m-2", "m-3"]
    assert sorted(subscription.acked) == ["m-1", "m-2", "m-3"] and len(handled) == 3
    assert listener.retried == 2
    # 1 s after the fault, then the ping fails three times: 2, 4, 8 s; pulled again only once it answered.
    assert clock.waits == [1, 2, 4, 8] and subscription.pulls == 3  # the last one: the drain after stop finds nothing
    assert subscription.attempts["m-2"] == 2  # one delivery spent on the outage, not one per check


def test_the_backoff_resets_after_a_success():
    first, second = Event("correction.submitted", {"n": 1}), Event("correction.submitted", {"n": 2})
    subscription = FakeSubscription(message(first))
    failures = {first.event_id: 2, second.event_id: 1}

    def handler(event: Event) -> None:
        if failures[event.event_id]:
            failures[event.event_id] -= 1
            raise RuntimeError("transient")
        if event.event_id == first.event_id:
            subscription.add(message(second))  # published after the first was handled

    clock, listener = run(subscription, handler)
    # first fails twice (1, 2 s) then succeeds, which resets the backoff: the second's failure waits 1 s again
    assert clock.waits == [1, 2, 1] and listener.retried == 3
    assert subscription.acked == ["m-1", "m-2"]


def test_a_dead_letter_keeps_data_and_attributes_and_names_reason_source_and_id():
    class Client:
        def __init__(self):
            self.sent = []

        def topic_path(self, project, topic):
            return f"projects/{project}/topics/{topic}"

        def publish(self, topic, data, **attributes):
            self.sent.append((topic, data, attributes))
            done = Future()
            done.set_result("dl-7")
            return done

    client = Client()
    publisher = DeadLetterPublisher("p", "dbapp-corrections", client=client)
    original = PubsubMessage(data=b"\xff payload", attributes={"origin": "webapp"}, message_id="42")
    assert publisher.publish(original, Poison("invalid-data", "é" * 2000)) == "dl-7"
    ((topic, data, attributes),) = client.sent
    assert topic == "projects/p/topics/dbapp-corrections-dead-letter" and data == b"\xff payload"
    added = DeadLetterAttributes.model_validate({k: v for k, v in attributes.items() if k != "origin"})
    assert attributes["origin"] == "webapp"
    assert (added.dead_letter_reason, added.dead_letter_source_subscription) == ("invalid-data", "dbapp-corrections")
    assert added.dead_letter_source_message_id == "42"
    assert len(added.dead_letter_detail.encode()) <= 1024 and added.dead_letter_detail == truncate_utf8(
        "é" * 2000, 1024
    )


def stopped_loop(subscription: FakeSubscription, handler) -> PullLoop:
    stop = threading.Event()
    stop.set()  # as after SIGTERM: the producers stopped, what is left must still be stored
    return PullLoop(subscription, "sub", "projects/p/subscriptions/sub", handler, stop, max_messages=50)


def test_after_stop_the_loop_drains_what_the_subscription_still_holds():
    subscription = FakeSubscription(*(message() for _ in range(120)))
    seen: list[Event] = []
    stopped_loop(subscription, seen.append).run()
    assert len(seen) == 120 and len(subscription.acked) == 120 and not subscription.queue
    assert subscription.pulls == 4  # 50 + 50 + 20, then an empty pull ends the drain


def test_draining_ends_at_the_first_transient_fault():
    subscription = FakeSubscription(*(message() for _ in range(3)))

    def database_down(event: Event) -> None:
        raise ConnectionError("database down")

    stopped_loop(subscription, database_down).run()
    assert subscription.pulls == 1 and subscription.acked == [] and len(subscription.nacked) == 3
