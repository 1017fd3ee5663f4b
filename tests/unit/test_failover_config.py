"""The failover controller's configuration (failover.config): defaults that work with `make up-regions`, the
region list's syntax, and a ConfigError naming the variable for every value it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.settings import ConfigError
from failover.config import DriverKind, FailoverConfig, parse_regions

BASE = {"PLATFORM_DATA_DIR": "/tmp/failover-data"}


def config(**env: str) -> FailoverConfig:
    return FailoverConfig.from_env({**BASE, **env})


def test_defaults_are_make_up_regions_and_the_seeds_rules():
    c = config()
    assert [(r.name, r.probe_urls) for r in c.regions] == [
        ("region-a", ("http://127.0.0.1:8080/readyz", "http://127.0.0.1:8081/readyz")),
        ("region-b", ("http://127.0.0.1:9080/readyz", "http://127.0.0.1:9081/readyz")),
    ]
    assert c.primary == "region-a" and c.interval_seconds == 10 and c.probe_timeout_seconds == 2
    t = c.policy.thresholds
    assert (t.healthy_below_ms, t.unhealthy_above_ms, t.unhealthy_failures) == (200, 500, 3)
    assert (c.policy.failback_checks, c.policy.full_weight, c.policy.drain_weight, c.policy.standby_weight) == (
        3,
        100,
        50,
        0,
    )
    assert c.driver is DriverKind.HAPROXY and c.haproxy is not None
    assert c.haproxy.runtime_api == str(Path("/tmp/failover-data/haproxy/admin.sock")) and c.haproxy.backend == "web"
    assert (c.host, c.port, c.prometheus_url, c.publish_events) == ("127.0.0.1", 8095, None, False)
    assert config(PUBSUB_EMULATOR_HOST="127.0.0.1:8085").publish_events is True
    assert config(PUBSUB_EMULATOR_HOST="127.0.0.1:8085", PUBLISH_EVENTS="false").publish_events is False


def test_regions_take_several_urls_and_keep_a_given_path():
    regions = parse_regions(" eu-west=https://eu.example.com/health|http://10.0.0.1:8081 , us-east=http://us:80/ ")
    assert [(r.name, r.probe_urls) for r in regions] == [
        ("eu-west", ("https://eu.example.com/health", "http://10.0.0.1:8081/readyz")),
        ("us-east", ("http://us:80/readyz",)),
    ]


def test_every_setting_is_read():
    c = config(
        FAILOVER_REGIONS="x=http://x:1,y=http://y:2,z=http://z:3",
        FAILOVER_PRIMARY="y",
        FAILOVER_INTERVAL_SECONDS="0.5",
        FAILOVER_PROBE_TIMEOUT_SECONDS="0.25",
        FAILOVER_HEALTHY_MS="100",
        FAILOVER_UNHEALTHY_MS="300",
        FAILOVER_UNHEALTHY_FAILURES="2",
        FAILOVER_FAILBACK_CHECKS="5",
        FAILOVER_FULL_WEIGHT="200",
        FAILOVER_DRAIN_WEIGHT="20",
        FAILOVER_STANDBY_WEIGHT="200",
        FAILOVER_LATENCY_WINDOW="7",
        PROMETHEUS_URL="http://127.0.0.1:9090/",
        HAPROXY_RUNTIME_API="127.0.0.1:9999",
        HAPROXY_BACKEND="front",
        FAILOVER_PORT="9000",
    )
    assert c.primary == "y" and c.interval_seconds == 0.5 and c.probe_timeout_seconds == 0.25
    assert c.policy.thresholds.unhealthy_failures == 2 and c.policy.failback_checks == 5
    assert (c.policy.full_weight, c.policy.drain_weight, c.policy.standby_weight) == (200, 20, 200)
    assert c.latency_window == 7 and c.prometheus_url == "http://127.0.0.1:9090" and c.port == 9000
    assert c.haproxy is not None and (c.haproxy.runtime_api, c.haproxy.backend) == ("127.0.0.1:9999", "front")


def test_the_gateway_driver_reads_the_kubernetes_api_and_names_each_regions_backend(tmp_path):
    c = config(
        FAILOVER_DRIVER="gateway",
        KUBERNETES_SERVICE_HOST="10.0.0.1",
        KUBERNETES_SERVICE_ACCOUNT_DIR=str(tmp_path),
        POD_NAMESPACE="web",
    )
    assert c.gateway is not None and c.haproxy is None
    assert c.gateway.kubernetes.api_url == "https://10.0.0.1:443" and c.gateway.route == "webapp"
    assert c.gateway.backends == {"region-a": "webapp-region-a", "region-b": "webapp-region-b"}
    assert c.gateway.kubernetes.token_path == tmp_path / "token" and c.gateway.kubernetes.namespace == "web"
    named = config(FAILOVER_DRIVER="gateway", KUBERNETES_API_URL="http://k", FAILOVER_GATEWAY_BACKEND="web-{region}")
    assert named.gateway is not None and named.gateway.backends["region-b"] == "web-region-b"
    assert config(FAILOVER_DRIVER="none").haproxy is None


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"FAILOVER_REGIONS": "a=http://a"}, "FAILOVER_REGIONS"),
        ({"FAILOVER_REGIONS": "a=http://a,a=http://b"}, "FAILOVER_REGIONS"),
        ({"FAILOVER_REGIONS": "A b=http://a,c=http://c"}, "FAILOVER_REGIONS"),
        ({"FAILOVER_REGIONS": "a=ftp://a,b=http://b"}, "FAILOVER_REGIONS"),
        ({"FAILOVER_REGIONS": "a=,b=http://b"}, "FAILOVER_REGIONS"),
        ({"FAILOVER_PRIMARY": "region-c"}, "FAILOVER_PRIMARY"),
        ({"FAILOVER_DRIVER": "nginx"}, "FAILOVER_DRIVER"),
        ({"FAILOVER_INTERVAL_SECONDS": "soon"}, "FAILOVER_INTERVAL_SECONDS"),
        ({"FAILOVER_INTERVAL_SECONDS": "0"}, "FAILOVER_INTERVAL_SECONDS"),
        ({"FAILOVER_UNHEALTHY_MS": "100"}, "FAILOVER_UNHEALTHY_MS"),
        ({"FAILOVER_UNHEALTHY_FAILURES": "0"}, "FAILOVER_UNHEALTHY_FAILURES"),
        ({"FAILOVER_FULL_WEIGHT": "300"}, "FAILOVER_FULL_WEIGHT"),
        ({"FAILOVER_DRAIN_WEIGHT": "101"}, "FAILOVER_DRAIN_WEIGHT"),
        ({"FAILOVER_FAILBACK_CHECKS": "0"}, "FAILOVER_FAILBACK_CHECKS"),
        ({"FAILOVER_PORT": "70000"}, "FAILOVER_PORT"),
        ({"FAILOVER_DRIVER": "gateway"}, "KUBERNETES_API_URL"),
        ({"FAILOVER_DRIVER": "gateway", "KUBERNETES_API_URL": "http://k", "FAILOVER_GATEWAY_BACKEND": "x"}, "{region}"),
        ({"PUBLISH_EVENTS": "true"}, "PUBLISH_EVENTS"),
    ],
)
def test_a_bad_value_names_its_variable(env, names):
    with pytest.raises(ConfigError, match=names.replace("{", r"\{").replace("}", r"\}")):
        config(**env)
