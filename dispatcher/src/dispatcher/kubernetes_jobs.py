"""Training Jobs from the trainers' CronJobs, through the Kubernetes API: what
`kubectl create job <name> --from=cronjob/<cronjob>` does, with a name derived from the dataset version so that a
second delivery of the same event finds the Job already there (409) instead of starting a second run.

The pod's service account needs only `get` on the trainer CronJobs and `create` on Jobs in its namespace
(k8s_ml/base/dispatcher.yaml). The calls go through `common.kubernetes_api`, which reads the token on every call
(projected tokens are rotated while the pod runs).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import requests

from common.kubernetes_api import KubernetesClient, KubernetesTarget
from dispatcher.outcome import DispatchFailed, Outcome

log = logging.getLogger("dispatcher.kubernetes")

MAX_NAME_LENGTH = 63  # a Job's name becomes the value of its pods' `job-name` label
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
DATASET_VERSION_LABEL = "house-price/dataset-version"


def cronjob_name(family: str) -> str:
    """The CronJob of a family (k8s_ml/base/trainers.yaml): `train-` and the folder name with dashes."""
    return "train-" + family.replace("_", "-")


def job_name(family: str, dataset_version: int) -> str:
    name = f"{cronjob_name(family)}-v{dataset_version}"
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"Job name {name!r} is longer than {MAX_NAME_LENGTH} characters: shorten the family name")
    return name


def job_from_cronjob(cronjob: dict[str, Any], name: str, dataset_version: int) -> dict[str, Any]:
    """The Job kubectl would create from `cronjob` (its jobTemplate's labels, annotations and spec; the annotation
    `cronjob.kubernetes.io/instantiate: manual`; the CronJob as controlling owner), plus a dataset-version label."""
    template = cronjob["spec"]["jobTemplate"]
    template_meta = template.get("metadata", {})
    meta = cronjob["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {**template_meta.get("labels", {}), DATASET_VERSION_LABEL: str(dataset_version)},
            "annotations": {**template_meta.get("annotations", {}), INSTANTIATE_ANNOTATION: "manual"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": copy.deepcopy(template["spec"]),
    }


class KubernetesLauncher:
    """Creates one Job per (family, dataset version)."""

    def __init__(self, target: KubernetesTarget, timeout: float = 10.0) -> None:
        self.target = target
        self._api = KubernetesClient(target, timeout)

    def launch(self, family: str, dataset_version: int) -> Outcome:
        name = job_name(family, dataset_version)
        try:
            got = self._api.request("GET", self.target.resource_url("batch/v1", "cronjobs", cronjob_name(family)))
            if got.status_code == 404:
                raise DispatchFailed(f"CronJob {cronjob_name(family)} not found in namespace {self.target.namespace}")
            got.raise_for_status()
            job = job_from_cronjob(got.json(), name, dataset_version)
            made = self._api.request("POST", self.target.resource_url("batch/v1", "jobs"), json=job)
        except (requests.RequestException, OSError) as exc:
            raise DispatchFailed(f"Kubernetes API: {exc}") from exc
        if made.status_code == 409:
            return Outcome.DUPLICATE
        if made.status_code >= 400:
            raise DispatchFailed(f"creating Job {name} answered {made.status_code}: {made.text[:300]}")
        log.info("training Job created", extra={"job": name, "family": family, "dataset_version": dataset_version})
        return Outcome.STARTED

    def close(self) -> None:
        self._api.close()
