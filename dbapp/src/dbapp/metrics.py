"""dbapp's Prometheus metrics. The first eight names are the seed's (004), so its PromQL queries work unchanged.

Under gunicorn (and in the consumer when it shares `PROMETHEUS_MULTIPROC_DIR`) every process writes its own
values; gauges therefore declare how processes combine: health is the most recent observation of any live
process, connections are summed over live processes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STORE_REQUESTS = Counter("store_requests_total", "POST /store requests received")
RETRIEVE_REQUESTS = Counter("retrieve_requests_total", "GET /retrieve and GET /corrections requests received")
STORE_LATENCY = Histogram("store_latency_seconds", "Time to answer POST /store")
RETRIEVE_LATENCY = Histogram("retrieve_latency_seconds", "Time to answer GET /retrieve and GET /corrections")
DOCUMENTS_INSERTED = Counter("documents_inserted_total", "New documents written (redeliveries not counted)")
DB_ERRORS = Counter("db_errors_total", "Database operations that failed, plus events that can never be stored")
DB_HEALTH = Gauge(
    "mongo_health_status",
    "1 if the database backend (MongoDB or SQLite) answered the last operation, else 0",
    multiprocess_mode="livemostrecent",
)
DB_CONNECTIONS = Gauge(
    "mongo_active_connections",
    "Open connections to the database backend (MongoDB pool or SQLite), summed over live processes",
    multiprocess_mode="livesum",
)

EVENTS = Counter(
    "dbapp_events_total",
    "Pub/Sub events handled by the consumer, by event type and outcome (stored, duplicate, conflict, invalid)",
    ["type", "outcome"],
)
DEAD_LETTERED = Counter(
    "dbapp_events_dead_lettered_total",
    "Messages the consumer moved to the subscription's dead-letter topic because they can never be stored, by "
    "subscription and reason (invalid-envelope, unknown-type, invalid-data)",
    ["subscription", "reason"],
)
EVENT_RETRIES = Counter(
    "dbapp_event_retries_total",
    "Messages the consumer handed back for redelivery after a transient fault (the database failed), by subscription",
    ["subscription"],
)
