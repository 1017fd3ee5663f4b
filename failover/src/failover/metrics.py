"""The failover controller's metrics, with the seed's names (`region_health_status`, `failover_events_total`,
`multiregion_request_rate`, `multiregion_error_rate`, `multiregion_latency_ms`) plus the weights it set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

REGION_HEALTH = Gauge(
    "region_health_status", "Each region's score at the latest check: 1 healthy, 0.5 degraded, 0 unhealthy", ["region"]
)
UNHEALTHY_EVENTS = Counter(
    "region_unhealthy_events_total",
    "Times a region became unhealthy: counted, so a region that recovers before the next scrape is still seen",
    ["region"],
)
TRAFFIC_WEIGHT = Gauge(
    "region_traffic_weight",
    "The traffic weight the load balancer holds for each region (0: no new requests)",
    ["region"],
)
FAILOVER_EVENTS = Counter(
    "failover_events_total",
    "Traffic moved from one region to another as a whole: failovers and failbacks",
    ["source_region", "target_region"],
)
DECISIONS = Counter(
    "failover_decisions_total", "Decisions taken, by action (drain, restore, failover, failback)", ["action"]
)
DRIVER_ERRORS = Counter("failover_driver_errors_total", "Rounds in which the load balancer could not be read or set")
REQUEST_RATE = Gauge("multiregion_request_rate", "Requests per second each region served", ["region"])
ERROR_RATE = Gauge("multiregion_error_rate", "Share of each region's requests that failed (0-1)", ["region"])
LATENCY = Gauge(
    "multiregion_latency_ms",
    "Health-check round trip per region over the latest checks, by percentile (p50, p95, p99)",
    ["region", "percentile"],
)
CONSECUTIVE_FAILURES = Gauge("region_consecutive_failed_checks", "Failed checks in a row, per region", ["region"])
