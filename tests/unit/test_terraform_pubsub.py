"""The pubsub-setup Job, Terraform and the code state the same Pub/Sub set-up: k8s_ml/base/pubsub/subscriptions.json
equals infra/terraform/pubsub.tf value by value, and so do the names and delivery policies the code uses when it
creates subscriptions itself (common.events, common.subscription_policy); the Job's script (pubsub_setup.py, run
here with fake clients and the real google-cloud-pubsub types) creates exactly that, reports any difference from it,
and retries while the API is not reachable, for a bounded time."""

from __future__ import annotations

import importlib.util
import json
import logging

import pytest
from google.api_core import exceptions as errors
from google.cloud import pubsub_v1

from common.backoff import Backoff
from common.events import ALL_TOPICS, DEAD_LETTER_SUFFIX, SUBSCRIPTIONS, dead_letter_name
from common.subscription_policy import DELIVERY_POLICIES
from tests import k8s_support as k8s
from tests import terraform_support as tf

SPEC_DIR = tf.REPO / "k8s_ml" / "base" / "pubsub"
SPEC = json.loads((SPEC_DIR / "subscriptions.json").read_text())
spec_module = importlib.util.spec_from_file_location("pubsub_setup", SPEC_DIR / "pubsub_setup.py")
setup = importlib.util.module_from_spec(spec_module)
spec_module.loader.exec_module(setup)


def test_the_job_spec_states_terraforms_values():
    assert SPEC["topics"] == tf.local("topics")
    assert SPEC["subscriptions"] == tf.local("subscriptions")
    suffix = SPEC["dead_letter_suffix"]
    for rtype in ("google_pubsub_topic", "google_pubsub_subscription"):
        assert tf.resource(rtype, "dead_letter")["name"] == "${each.key}" + suffix, rtype
    assert setup.missing_from_spec(SPEC, ALL_TOPICS, SUBSCRIPTIONS) == []
    assert setup.missing_from_spec(SPEC, (*ALL_TOPICS, "x"), {**SUBSCRIPTIONS, "y": "x"}) == [
        "topic x is used by the code but not in the spec",
        "subscription y is used by the code but not in the spec",
    ]


def test_the_code_creates_subscriptions_with_the_specs_names_and_policies():
    assert SPEC["dead_letter_suffix"] == DEAD_LETTER_SUFFIX
    assert set(DELIVERY_POLICIES) == set(SUBSCRIPTIONS) == set(SPEC["subscriptions"])
    for name, policy in DELIVERY_POLICIES.items():
        stated = SPEC["subscriptions"][name]
        assert dead_letter_name(name) == name + SPEC["dead_letter_suffix"]
        assert policy.ack_deadline_seconds == stated["ack_deadline_seconds"], name
        assert policy.message_retention_seconds == setup.seconds(stated["message_retention_duration"]), name
        assert policy.max_delivery_attempts == stated["max_delivery_attempts"], name
        assert policy.minimum_backoff_seconds == setup.seconds(stated["minimum_backoff"]), name
        assert policy.maximum_backoff_seconds == setup.seconds(stated["maximum_backoff"]), name
    # and as create requests: what common.bus.ensure_subscription sends is what the Job would send
    _, requests = setup.desired("p-1", SPEC)
    by_name = {r["name"].rsplit("/", 1)[1]: r for r in requests}
    for name, policy in DELIVERY_POLICIES.items():
        dead_topic = f"projects/p-1/topics/{dead_letter_name(name)}"
        code = {**policy.subscription_fields(), "dead_letter_policy": policy.dead_letter_policy(dead_topic)}
        assert code == {k: v for k, v in by_name[name].items() if k not in ("name", "topic")}, name
        assert policy.subscription_fields() == {
            k: v for k, v in by_name[dead_letter_name(name)].items() if k not in ("name", "topic")
        }


class FakePublisher:
    def __init__(self, topics=(), deny=False):
        self.topics, self.deny, self.created = set(topics), deny, []

    def get_topic(self, topic):
        if topic not in self.topics:
            raise errors.NotFound(topic)

    def create_topic(self, name):
        if self.deny:
            raise errors.PermissionDenied(name)
        self.topics.add(name)
        self.created.append(name)


class FakeSubscriber:
    def __init__(self, subscriptions=None):
        self.subscriptions, self.created = dict(subscriptions or {}), []

    def get_subscription(self, subscription):
        if subscription not in self.subscriptions:
            raise errors.NotFound(subscription)
        return self.subscriptions[subscription]

    def create_subscription(self, request):
        self.subscriptions[request["name"]] = pubsub_v1.types.Subscription(request)
        self.created.append(request["name"])


def terraform_subscriptions(project: str) -> dict[str, pubsub_v1.types.Subscription]:
    """What Terraform's resources create, built from the Terraform locals (not from the spec)."""
    topic = f"projects/{project}/topics/"
    made = {}
    for name, sub in tf.local("subscriptions").items():
        common = {
            "ack_deadline_seconds": sub["ack_deadline_seconds"],
            "message_retention_duration": sub["message_retention_duration"],
            "expiration_policy": {},
            "retry_policy": {"minimum_backoff": sub["minimum_backoff"], "maximum_backoff": sub["maximum_backoff"]},
        }
        durable = {
            "name": f"projects/{project}/subscriptions/{name}",
            "topic": topic + sub["topic"],
            **common,
            "dead_letter_policy": {
                "dead_letter_topic": f"{topic}{name}-dead-letter",
                "max_delivery_attempts": sub["max_delivery_attempts"],
            },
        }
        dead = {"name": f"projects/{project}/subscriptions/{name}-dead-letter", "topic": f"{topic}{name}-dead-letter"}
        for body in (durable, {**dead, **common}):
            made[body["name"]] = pubsub_v1.types.Subscription.from_json(json.dumps(body))
    return made


def terraform_topics(project: str) -> set[str]:
    names = tf.local("topics") + [f"{s}-dead-letter" for s in tf.local("subscriptions")]
    return {f"projects/{project}/topics/{t}" for t in names}


def reconcile(publisher, subscriber):
    return setup.reconcile("p-1", SPEC, publisher, subscriber, pubsub_v1.types, errors)


def test_on_an_empty_project_the_job_creates_what_terraform_creates(caplog):
    caplog.set_level(logging.INFO, logger="pubsub-setup")
    publisher, subscriber = FakePublisher(), FakeSubscriber()
    assert reconcile(publisher, subscriber) == 0
    assert set(publisher.created) == terraform_topics("p-1")
    expected = terraform_subscriptions("p-1")
    assert set(subscriber.created) == set(expected)
    for name, made in subscriber.subscriptions.items():
        assert pubsub_v1.types.Subscription.to_dict(made) == pubsub_v1.types.Subscription.to_dict(expected[name]), name
    assert "created projects/p-1/topics/predictions" in caplog.messages


def test_a_terraform_made_project_passes_unchanged():
    publisher = FakePublisher(terraform_topics("p-1"))
    subscriber = FakeSubscriber(terraform_subscriptions("p-1"))
    assert reconcile(publisher, subscriber) == 0
    assert publisher.created == [] and subscriber.created == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dead_letter_policy", {"dead_letter_topic": "projects/p-1/topics/other", "max_delivery_attempts": 10}),
        ("dead_letter_policy", None),
        ("retry_policy", {"minimum_backoff": "1s", "maximum_backoff": "600s"}),
        ("ack_deadline_seconds", 10),
        ("expiration_policy", {"ttl": "2678400s"}),
    ],
)
def test_a_difference_from_the_spec_fails_the_job(caplog, field, value):
    subscriptions = terraform_subscriptions("p-1")
    changed = pubsub_v1.types.Subscription.to_dict(subscriptions["projects/p-1/subscriptions/dbapp-predictions"])
    if value is None:
        del changed[field]
    else:
        changed[field] = value
    subscriptions["projects/p-1/subscriptions/dbapp-predictions"] = pubsub_v1.types.Subscription.from_json(
        json.dumps(changed)
    )
    assert reconcile(FakePublisher(terraform_topics("p-1")), FakeSubscriber(subscriptions)) == 1
    assert any(m.startswith(f"differs projects/p-1/subscriptions/dbapp-predictions: {field}") for m in caplog.messages)


def test_missing_and_not_allowed_to_create_fails_naming_terraform(caplog):
    topics = terraform_topics("p-1") - {"projects/p-1/topics/dataset-versions"}
    assert reconcile(FakePublisher(topics, deny=True), FakeSubscriber(terraform_subscriptions("p-1"))) == 1
    assert any(m.startswith("missing projects/p-1/topics/dataset-versions") for m in caplog.messages)


def test_the_job_runs_the_script_on_the_mounted_spec():
    objs = k8s.render("k8s_ml/overlays/prod")
    (job,) = [j for j in k8s.of_kind(objs, "Job") if j["metadata"]["name"] == "pubsub-setup"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "spec")
    assert container["command"] == ["python", f"{mount['mountPath']}/pubsub_setup.py"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PUBSUB_SPEC"] == f"{mount['mountPath']}/subscriptions.json" == setup.SPEC_PATH
    volume = next(v for v in pod["volumes"] if v["name"] == "spec")
    (config_map,) = [c for c in k8s.of_kind(objs, "ConfigMap") if c["metadata"]["name"] == volume["configMap"]["name"]]
    for name in ("pubsub_setup.py", "subscriptions.json"):
        assert config_map["data"][name] == (SPEC_DIR / name).read_text(), name
    assert container["image"].rsplit("/", 1)[-1].startswith("data-job:")  # an image with common and pubsub


class FakeTime:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


TRANSIENT = (errors.ServiceUnavailable, errors.DeadlineExceeded, errors.RetryError)


def test_the_job_retries_while_the_api_is_not_reachable_then_does_its_work(caplog):
    publisher, subscriber, time = FakePublisher(), FakeSubscriber(), FakeTime()
    calls = []

    def action() -> int:
        calls.append(time.now)
        if len(calls) <= 3:
            raise errors.ServiceUnavailable("connect: connection refused")
        return reconcile(publisher, subscriber)

    status = setup.with_retries(
        action, TRANSIENT, 240, Backoff(initial=1.0, maximum=30.0), sleep=time.sleep, clock=lambda: time.now
    )
    assert status == 0 and time.sleeps == [1, 2, 4] and set(publisher.created) == terraform_topics("p-1")
    assert sum("not reachable yet" in m for m in caplog.messages) == 3


def test_the_job_gives_up_after_a_bounded_time_with_a_clear_message(caplog):
    time = FakeTime()

    def unreachable() -> int:
        time.now += 0.5  # each attempt takes a while
        raise errors.RetryError("Timeout of 60.0s exceeded", cause=None)

    status = setup.with_retries(
        unreachable, TRANSIENT, 100, Backoff(initial=1.0, maximum=30.0), sleep=time.sleep, clock=lambda: time.now
    )
    assert status == 1
    assert time.sleeps[:6] == [1, 2, 4, 8, 16, 30] and max(time.sleeps) == 30
    assert 100 <= time.now <= 101
    assert caplog.messages[-1].startswith("the Pub/Sub API was not reachable for 100 s; giving up (RetryError")


def test_a_non_transient_error_is_not_retried():
    def denied() -> int:
        raise errors.PermissionDenied("no")

    with pytest.raises(errors.PermissionDenied):
        setup.with_retries(denied, TRANSIENT, 100, Backoff(), sleep=lambda s: pytest.fail("slept"), clock=lambda: 0.0)
