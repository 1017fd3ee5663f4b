"""The dispatcher's Kubernetes side against a stand-in API server (`kube_api_fake`): the Job it creates for each
family is the Job `kubectl create job --from=cronjob/<name>` makes from the same rendered CronJob, a second
delivery finds it there (409: duplicate, nothing started), and API faults are transient errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.kubernetes_api import KubernetesTarget
from dispatcher.kubernetes_jobs import DATASET_VERSION_LABEL, KubernetesLauncher, cronjob_name, job_name
from dispatcher.outcome import DispatchFailed, Outcome
from tests import k8s_support as k8s
from tests.integration.kube_api_fake import FakeApi, fake_api

pytestmark = pytest.mark.integration
FAMILIES = ("linear_regression", "gradient_boosting")


def rendered_cronjobs() -> dict[str, dict[str, Any]]:
    """The trainer CronJobs as the prod overlay deploys them, with the uid the API server would have given."""
    objs = k8s.render("k8s_ml/overlays/prod")
    cronjobs = {}
    for number, obj in enumerate(k8s.of_kind(objs, "CronJob")):
        obj["metadata"]["uid"] = f"00000000-0000-0000-0000-00000000000{number}"
        cronjobs[obj["metadata"]["name"]] = obj
    return cronjobs


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeApi]:
    with fake_api("ml", rendered_cronjobs()) as running:
        yield running


def launcher(api: FakeApi, account: Path, token: str = "token-1") -> KubernetesLauncher:
    account.mkdir(exist_ok=True)
    (account / "token").write_text(token)
    return KubernetesLauncher(KubernetesTarget(api.url, "ml", account / "token", account / "ca.crt"))


def without_defaults(value: Any) -> Any:
    """A manifest without the empty values kubectl prints (`creationTimestamp: null`, `resources: {}`, status)."""
    if isinstance(value, dict):
        cleaned = {k: without_defaults(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [without_defaults(v) for v in value]
    return value


@pytest.mark.parametrize("family", FAMILIES)
def test_the_job_is_exactly_what_kubectl_makes_from_the_cronjob(api: FakeApi, tmp_path: Path, family: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": api.url}}],
                "users": [{"name": "u", "user": {"token": "kubectl"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ml"}}],
                "current-context": "x",
            }
        )
    )
    name = job_name(family, 12)
    made = subprocess.run(
        [k8s.kubectl(), "create", "job", name, f"--from=cronjob/{cronjob_name(family)}", "--dry-run=client", "-o=json"],
        env={"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    by_kubectl = without_defaults(json.loads(made.stdout))

    assert launcher(api, tmp_path / "sa").launch(family, 12) is Outcome.STARTED
    ours = api.jobs[name]
    assert ours["metadata"]["labels"].pop(DATASET_VERSION_LABEL) == "12"
    assert without_defaults(ours) == by_kubectl


def test_a_second_delivery_starts_nothing_and_the_token_is_read_each_time(api: FakeApi, tmp_path: Path) -> None:
    first = launcher(api, tmp_path / "sa", token="token-1")
    assert first.launch("gradient_boosting", 3) is Outcome.STARTED
    (tmp_path / "sa" / "token").write_text("token-2")  # the kubelet rotated the projected token
    assert first.launch("gradient_boosting", 3) is Outcome.DUPLICATE
    assert list(api.jobs) == ["train-gradient-boosting-v3"]
    assert api.tokens[0] == "Bearer token-1" and api.tokens[-1] == "Bearer token-2"


def test_api_faults_and_a_missing_cronjob_are_errors_that_name_the_cause(api: FakeApi, tmp_path: Path) -> None:
    runs = launcher(api, tmp_path / "sa")
    with pytest.raises(DispatchFailed, match="CronJob train-no-such-family not found"):
        runs.launch("no_such_family", 1)
    api.fail_with = 503
    with pytest.raises(DispatchFailed, match="503"):
        runs.launch("linear_regression", 1)
    api.fail_with = None
    assert runs.launch("linear_regression", 1) is Outcome.STARTED
