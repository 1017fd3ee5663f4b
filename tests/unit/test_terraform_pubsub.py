"""The pubsub-setup Job and Terraform state the same Pub/Sub set-up: k8s_ml/base/pubsub/subscriptions.json equals
infra/terraform/pubsub.tf value by value, and the Job's script (pubsub_setup.py, run here with fake clients and the
real google-cloud-pubsub types) creates exactly that and reports any difference from it."""

from __future__ import annotations

import importlib.util
import json
import logging

import pytest
from google.api_core import exceptions as errors
from google.cloud import pubsub_v1

from common.events import ALL_TOPICS, SUBSCRIPTIONS
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
