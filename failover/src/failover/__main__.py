"""`failover-controller`: every FAILOVER_INTERVAL_SECONDS, check each region, score it and move traffic between
regions through the configured driver (HAProxy's runtime API locally, the multi-cluster Gateway's HTTPRoute on
GKE). `/healthz`, `/readyz` (the load balancer holds the decided weights) and `/metrics` on FAILOVER_PORT.
SIGTERM or SIGINT stops it after the current round.

Exit codes: 0 stopped when asked, 2 configuration error.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from common.bus import Publisher
from common.events import Event
from common.jsonlog import configure_logging
from common.settings import ConfigError
from common.shutdown import stop_on_signals
from common.small_http import serve
from failover.config import DriverKind, FailoverConfig
from failover.controller import Controller, RateReader
from failover.drivers.base import Driver, RecordingDriver, TrafficSource
from failover.drivers.gateway import GatewayDriver
from failover.drivers.haproxy import HaproxyDriver
from failover.probes import Prober
from failover.rates import CounterRates, PrometheusRates

log = logging.getLogger("failover")


def make_driver(config: FailoverConfig) -> Driver:
    names = [region.name for region in config.regions]
    if config.driver is DriverKind.HAPROXY:
        assert config.haproxy is not None  # FailoverConfig sets it for this driver
        return HaproxyDriver(config.haproxy, names)
    if config.driver is DriverKind.GATEWAY:
        assert config.gateway is not None
        return GatewayDriver(config.gateway)
    return RecordingDriver(names)


def make_rates(config: FailoverConfig, driver: Driver) -> RateReader | None:
    if config.prometheus_url:
        return PrometheusRates(config.prometheus_url, config.promql_request_rate, config.promql_error_ratio)
    if isinstance(driver, TrafficSource):
        return CounterRates(driver.traffic)
    return None


def make_publisher(config: FailoverConfig) -> Callable[[Event], None] | None:
    """Publish each decision to `region-events` where a bus is configured (PUBLISH_EVENTS)."""
    if not config.publish_events:
        return None
    publisher = Publisher(config.settings.gcp_project)

    def publish(event: Event) -> None:
        publisher.publish(event, timeout=10.0)

    return publish


def run(config: FailoverConfig, stop: threading.Event) -> None:
    driver = make_driver(config)
    prober = Prober(config.regions, config.probe_timeout_seconds)
    controller = Controller(
        [region.name for region in config.regions],
        config.primary,
        config.policy,
        prober,
        driver,
        rates=make_rates(config, driver),
        publish=make_publisher(config),
        latency_window=config.latency_window,
    )
    server = serve(config.host, config.port, ready=lambda: controller.in_sync)
    log.info(
        "failover controller starting",
        extra={
            "regions": {region.name: list(region.probe_urls) for region in config.regions},
            "primary": config.primary,
            "driver": config.driver.value,
            "interval_seconds": config.interval_seconds,
            "publish_events": config.publish_events,
            "prometheus": config.prometheus_url,
        },
    )
    try:
        controller.start()
        while not stop.is_set():
            started = time.monotonic()
            controller.tick()
            stop.wait(max(0.0, config.interval_seconds - (time.monotonic() - started)))
    finally:
        prober.close()
        driver.close()
        server.shutdown()
        server.server_close()


def main() -> int:
    try:
        config = FailoverConfig.from_env(os.environ)
    except ConfigError as exc:
        configure_logging("failover-controller").error("configuration error: %s", exc)
        return 2
    configure_logging("failover-controller")
    stop = stop_on_signals(log)
    run(config, stop)
    log.info("failover controller stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
