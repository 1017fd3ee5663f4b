"""The Jobs end at once, without a retry, on the exit codes that a retry cannot change: the data job's "another
job holds the lease" and bad configuration, a trainer's deferred promotion decision and bad configuration. The
codes are read from the programs, so renumbering one without the manifests fails here."""

from __future__ import annotations

import pytest

from data_versioning.__main__ import EXIT_CONFIG, EXIT_LEASE_HELD
from model_training.__main__ import EXIT_DEFERRED, EXIT_USAGE
from tests import k8s_support as k8s

pytestmark = pytest.mark.integration

NO_RETRY = {"data-job": {EXIT_CONFIG, EXIT_LEASE_HELD}, "trainer": {EXIT_USAGE, EXIT_DEFERRED}}


@pytest.mark.parametrize("target", ["k8s_ml/overlays/dev", "k8s_ml/overlays/prod"])
def test_jobs_fail_at_once_on_exits_a_retry_cannot_change(target: str) -> None:
    cronjobs = k8s.of_kind(k8s.render(target), "CronJob")
    assert {c["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["app"] for c in cronjobs} >= set(
        NO_RETRY
    )
    for cronjob in cronjobs:
        job = cronjob["spec"]["jobTemplate"]["spec"]
        app = job["template"]["metadata"]["labels"]["app"]
        if app not in NO_RETRY:
            continue
        assert job["template"]["spec"]["restartPolicy"] == "Never", k8s.name(cronjob)
        [rule] = job["podFailurePolicy"]["rules"]
        container = job["template"]["spec"]["containers"][0]["name"]
        assert rule["action"] == "FailJob" and rule["onExitCodes"]["containerName"] == container
        assert set(rule["onExitCodes"]["values"]) == NO_RETRY[app], k8s.name(cronjob)
