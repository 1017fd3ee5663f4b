"""Who may write, as the rendered manifests say: production closes the write APIs to clients without a token
(API_TOKENS from the api-tokens Secret, never a literal value), dbapp's readers are pointed at its read-only port,
and the port numbers agree everywhere they are written."""

from __future__ import annotations

import pytest

from tests import k8s_support as k8s

pytestmark = pytest.mark.integration


def deployment(objs: list[dict], name: str) -> dict:
    [found] = [d for d in k8s.of_kind(objs, "Deployment") if d["metadata"]["name"] == name]
    return found


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_production_write_apis_need_a_token_from_the_secret(env: str) -> None:
    objs = k8s.render(f"k8s_web/overlays/{env}")
    for name in ("webapp", "dbapp"):
        main, *others = k8s.containers(k8s.pod_template(deployment(objs, name))["spec"])
        tokens = env_of(main).get("API_TOKENS")
        if env == "prod":
            assert tokens == {
                "name": "API_TOKENS",
                "valueFrom": {"secretKeyRef": {"name": "api-tokens", "key": "API_TOKENS"}},
            }, name
        else:
            assert tokens is None, f"{name}: dev keeps the write APIs open for local clients"
        assert all("API_TOKENS" not in env_of(c) for c in others), f"{name}: only the serving container needs it"
    for cm in k8s.of_kind(objs, "ConfigMap"):
        assert "API_TOKENS" not in (cm.get("data") or {}), "API_TOKENS belongs in a Secret, not a ConfigMap"


@pytest.mark.parametrize(("web", "ml"), k8s.PAIRS)
def test_dbapp_readers_use_its_read_only_port(web: str, ml: str) -> None:
    web_objs, ml_objs = k8s.render(web), k8s.render(ml)
    pod = k8s.pod_template(deployment(web_objs, "dbapp"))
    [server] = [c for c in k8s.containers(pod["spec"]) if c["name"] == "dbapp"]
    read_port = int(env_of(server)["READ_ONLY_PORT"]["value"])
    assert {"name": "read", "containerPort": read_port} in server["ports"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(read_port)
    [service] = [s for s in k8s.of_kind(web_objs, "Service") if s["metadata"]["name"] == "dbapp"]
    assert {"name": "read", "port": read_port, "targetPort": "read"} in service["spec"]["ports"]
    [ml_config] = [c for c in k8s.of_kind(ml_objs, "ConfigMap") if "DBAPP_URL" in (c.get("data") or {})]
    assert ml_config["data"]["DBAPP_URL"].endswith(f":{read_port}"), "the data job only reads dbapp"
