"""A serving pod that is told to stop answers what it accepted: the preStop pause takes it out of the Service
first, gunicorn's graceful timeout outlasts webapp's publish timeout, and both fit in the termination grace."""

from __future__ import annotations

import pytest

from common import gunicorn_conf
from tests import k8s_support as k8s
from webapp.config import WebappConfig

SERVING = ("webapp", "mlapp", "dbapp")


def test_graceful_timeout_outlasts_the_publish_timeout() -> None:
    assert gunicorn_conf.graceful_timeout > WebappConfig.publish_timeout


@pytest.mark.parametrize("name", SERVING)
def test_serving_pods_pause_before_sigterm_and_have_time_to_finish(name: str) -> None:
    (deployment,) = [d for d in k8s.of_kind(k8s.render("k8s_web/base"), "Deployment") if d["metadata"]["name"] == name]
    pod = deployment["spec"]["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] == name]
    command = server["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pause = int(command[1])
    assert pause >= 5, "endpoints need a few seconds to drop the pod"
    assert pod["terminationGracePeriodSeconds"] >= pause + gunicorn_conf.graceful_timeout
