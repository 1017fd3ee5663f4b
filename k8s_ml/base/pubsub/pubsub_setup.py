"""The pubsub-setup Job (k8s_ml/base/pubsub-setup-job.yaml): the project's topics and durable subscriptions must
be exactly those of subscriptions.json, which states the same values as infra/terraform/pubsub.tf
(tests/unit/test_terraform_pubsub.py proves it).

Terraform owns them in Google Cloud. On every ml deploy this Job:
  - checks that every topic and subscription of `common.events` (ALL_TOPICS, SUBSCRIPTIONS) is in the spec;
  - for each topic, dead-letter topic, durable subscription and dead-letter subscription of the spec: if it
    exists, compares it with the spec (topic, ack deadline, retention, no expiry, dead-letter policy, retry
    policy); if it is missing, creates it from the spec, which only works where the Job may create (a project
    without Terraform; in Terraform's projects its account may only read, and a missing one is reported).
Any difference, or anything missing that could not be created, is logged and the Job fails (exit 1).

The Pub/Sub API may not answer at first (the node's network or Workload Identity is not ready yet, the emulator
is still starting): such transient faults are retried, 1 s doubling to 30 s, for at most
`PUBSUB_SETUP_TIMEOUT_SECONDS` (default 240, well inside the Job's activeDeadlineSeconds); after that the Job
exits 1 saying the API was not reachable.

Dead-lettering also needs Pub/Sub's service agent to publish to each dead-letter topic and subscribe to each
subscription: Terraform grants that; in a project without Terraform, grant it by hand (infra/terraform/README.md).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPEC_PATH = "/etc/pubsub-setup/subscriptions.json"
DEFAULT_TIMEOUT_SECONDS = 240.0
log = logging.getLogger("pubsub-setup")


def load_spec(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def missing_from_spec(spec: dict[str, Any], topics: tuple[str, ...], subscriptions: dict[str, str]) -> list[str]:
    """What the code uses (common.events) but the spec does not state, or states on another topic."""
    problems = [f"topic {t} is used by the code but not in the spec" for t in topics if t not in spec["topics"]]
    for name, topic in subscriptions.items():
        stated = spec["subscriptions"].get(name)
        if stated is None:
            problems.append(f"subscription {name} is used by the code but not in the spec")
        elif stated["topic"] != topic:
            problems.append(f"subscription {name}: the code reads topic {topic}, the spec says {stated['topic']}")
    return problems


def seconds(duration: str) -> int:
    if not duration.endswith("s") or not duration[:-1].isdigit():
        raise ValueError(f"durations are whole seconds such as '600s', not {duration!r}")
    return int(duration[:-1])


def desired(project: str, spec: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Topic paths and subscription create-requests (Pub/Sub v1 field names) the spec asks for."""

    def topic_path(name: str) -> str:
        return f"projects/{project}/topics/{name}"

    suffix = spec["dead_letter_suffix"]
    topics = [topic_path(t) for t in spec["topics"]]
    requests = []
    for name, sub in spec["subscriptions"].items():
        topics.append(topic_path(name + suffix))
        common = {
            "ack_deadline_seconds": sub["ack_deadline_seconds"],
            "message_retention_duration": {"seconds": seconds(sub["message_retention_duration"])},
            "expiration_policy": {},  # no ttl: never expires
            "retry_policy": {
                "minimum_backoff": {"seconds": seconds(sub["minimum_backoff"])},
                "maximum_backoff": {"seconds": seconds(sub["maximum_backoff"])},
            },
        }
        requests.append(
            {
                "name": f"projects/{project}/subscriptions/{name}",
                "topic": topic_path(sub["topic"]),
                **common,
                "dead_letter_policy": {
                    "dead_letter_topic": topic_path(name + suffix),
                    "max_delivery_attempts": sub["max_delivery_attempts"],
                },
            }
        )
        # where dead-lettered messages wait for a person (a topic without subscription drops them)
        requests.append(
            {"name": f"projects/{project}/subscriptions/{name}{suffix}", "topic": topic_path(name + suffix), **common}
        )
    return topics, requests


def differences(actual: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The spec's fields (those in `wanted`) that `actual` does not have; both are `Subscription.to_dict` shapes,
    so durations read '10s' and a never-expiring subscription has `expiration_policy == {}`."""
    return [
        f"{key}: is {actual.get(key)!r}, the spec says {value!r}"
        for key, value in wanted.items()
        if key != "name" and actual.get(key) != value
    ]


def reconcile(project: str, spec: dict[str, Any], publisher: Any, subscriber: Any, types: Any, errors: Any) -> int:
    """Check (and create what is missing); log one line per topic and subscription; 0 when all match.

    `types` is `google.cloud.pubsub_v1.types`, `errors` is `google.api_core.exceptions` (tests pass fakes for the
    clients only)."""
    topics, requests = desired(project, spec)
    failed = 0
    for path in topics:
        try:
            publisher.get_topic(topic=path)
            log.info(f"ok {path}", extra={"resource": path})
        except errors.NotFound:
            failed += _create(lambda p=path: publisher.create_topic(name=p), path, errors)
    for request in requests:
        path = request["name"]
        try:
            actual = types.Subscription.to_dict(subscriber.get_subscription(subscription=path))
        except errors.NotFound:
            failed += _create(lambda r=request: subscriber.create_subscription(request=r), path, errors)
            continue
        wanted = {k: v for k, v in types.Subscription.to_dict(types.Subscription(request)).items() if k in request}
        problems = differences(actual, wanted)
        for problem in problems:
            log.error(f"differs {path}: {problem}", extra={"resource": path})
        if not problems:
            log.info(f"ok {path}", extra={"resource": path})
        failed += bool(problems)
    return 1 if failed else 0


def _create(action: Any, path: str, errors: Any) -> int:
    try:
        action()
    except errors.AlreadyExists:  # created meanwhile (another run): the next deploy checks it
        log.info(f"ok {path} (created meanwhile)", extra={"resource": path})
        return 0
    except errors.PermissionDenied:
        log.error(
            f"missing {path}: not allowed to create it here; run `terraform apply` in infra/terraform",
            extra={"resource": path},
        )
        return 1
    log.info(f"created {path}", extra={"resource": path})
    return 0


def with_retries(
    action: Callable[[], int],
    transient: tuple[type[BaseException], ...],
    give_up_after: float,
    backoff: Any,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """`action()`'s exit status, retrying it (it is idempotent) while it raises one of `transient`, waiting
    `backoff.next_delay()` between attempts (`common.backoff.Backoff`); 1 once `give_up_after` seconds passed."""
    deadline = clock() + give_up_after
    while True:
        try:
            return action()
        except transient as exc:
            left = deadline - clock()
            reason = f"{type(exc).__name__}: {str(exc)[:300]}"
            if left <= 0:
                log.error(f"the Pub/Sub API was not reachable for {give_up_after:g} s; giving up ({reason})")
                return 1
            delay = min(backoff.next_delay(), left)
            log.warning(f"the Pub/Sub API is not reachable yet ({reason}); retrying in {delay:g} s")
            sleep(delay)


def main() -> int:
    from google.api_core import exceptions as errors
    from google.cloud import pubsub_v1

    from common.backoff import Backoff
    from common.events import ALL_TOPICS, SUBSCRIPTIONS
    from common.jsonlog import configure_logging

    configure_logging("pubsub-setup")

    spec = load_spec(os.environ.get("PUBSUB_SPEC", SPEC_PATH))
    problems = missing_from_spec(spec, ALL_TOPICS, SUBSCRIPTIONS)
    for problem in problems:
        log.error(f"spec {problem}")
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    transient = (errors.ServiceUnavailable, errors.DeadlineExceeded, errors.RetryError, errors.InternalServerError)
    try:
        status = with_retries(
            lambda: reconcile(os.environ["GCP_PROJECT"], spec, publisher, subscriber, pubsub_v1.types, errors),
            transient,
            float(os.environ.get("PUBSUB_SETUP_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)),
            Backoff(initial=1.0, maximum=30.0),
        )
    finally:
        subscriber.close()
    return 1 if problems else status


if __name__ == "__main__":
    sys.exit(main())
