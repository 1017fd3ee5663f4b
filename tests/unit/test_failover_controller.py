"""The controller's round (failover.controller) with scripted checks and a recording driver: each decision is
published as a valid `traffic.shifted` event and counted, the metrics say what the load balancer holds, a driver
or bus fault costs nothing but that round, and the rates come from Prometheus or the load balancer's counters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import REGISTRY

from common.contracts.events import TrafficShifted
from common.events import EVENT_TYPES, Event
from failover.controller import Controller
from failover.decisions import Policy
from failover.drivers.base import DriverError, RecordingDriver, TrafficCount
from failover.latency import LatencyWindow
from failover.rates import CounterRates, PrometheusRates, Rates
from failover.scoring import Observation

OK = Observation(ok=True, latency_ms=40.0)
DOWN = Observation(ok=False, detail="refused")


class Script:
    """A checker that answers the next scripted round each time."""

    def __init__(self, rounds: list[dict[str, Observation]]) -> None:
        self.rounds = list(rounds)

    def check(self) -> dict[str, Observation]:
        return self.rounds.pop(0)


class FlakyDriver(RecordingDriver):
    def __init__(self, regions: list[str], failures: int) -> None:
        super().__init__(regions)
        self.failures = failures

    def current_weights(self) -> dict[str, int]:
        if self.failures > 0:
            self.failures -= 1
            raise DriverError("connection refused")
        return super().current_weights()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def controller(regions, rounds, driver=None, **kwargs) -> tuple[Controller, RecordingDriver]:
    driver = driver or RecordingDriver(list(regions))
    ctl = Controller(list(regions), regions[0], Policy(), Script(rounds), driver, **kwargs)
    ctl.start()
    return ctl, driver


def test_a_failover_is_applied_published_and_counted():
    a, b = "unit-a", "unit-b"
    events: list[Event] = []
    before = sample("failover_events_total", source_region=a, target_region=b)
    ctl, driver = controller((a, b), [{a: OK, b: OK}] + [{a: DOWN, b: OK}] * 3, publish=events.append)
    assert sample("failover_events_total", source_region=a, target_region=b) == before  # exported from the start
    for _ in range(4):
        ctl.tick()
    assert driver.calls == [{a: 100, b: 0}, {a: 50, b: 50}, {a: 0, b: 100}]
    assert [e.data["action"] for e in events] == ["drain", "failover"]
    for event in events:
        assert event.type == "traffic.shifted" and EVENT_TYPES[event.type] == "region-events"
        Event.from_json(event.to_json()).payload()  # a consumer accepts it
    failover = TrafficShifted.model_validate(events[1].data)
    assert (failover.source_region, failover.target_region) == (a, b)
    assert failover.weights == {a: 0, b: 100} and failover.previous_weights == {a: 50, b: 50}
    assert failover.health == {a: "unhealthy", b: "healthy"}
    assert sample("failover_events_total", source_region=a, target_region=b) == before + 1
    assert sample("region_health_status", region=a) == 0 and sample("region_health_status", region=b) == 1
    assert sample("region_traffic_weight", region=a) == 0 and sample("region_traffic_weight", region=b) == 100
    assert sample("multiregion_latency_ms", region=b, percentile="p99") == 40
    assert ctl.in_sync


def test_a_degraded_region_reads_half():
    a, b = "unit-half-a", "unit-half-b"
    ctl, _ = controller((a, b), [{a: Observation(ok=True, latency_ms=300.0), b: OK}])
    ctl.tick()
    assert sample("region_health_status", region=a) == 0.5


def test_an_unreachable_load_balancer_is_retried_next_round():
    a, b = "unit-lb-a", "unit-lb-b"
    driver = FlakyDriver([a, b], failures=2)  # start() and the first round fail
    errors = sample("failover_driver_errors_total")
    ctl, _ = controller((a, b), [{a: OK, b: OK}] * 2, driver=driver)
    ctl.tick()
    assert not ctl.in_sync and driver.calls == [] and sample("failover_driver_errors_total") == errors + 1
    ctl.tick()
    assert ctl.in_sync and driver.calls == [{a: 100, b: 0}]


def test_weights_changed_behind_its_back_are_put_back():
    a, b = "unit-drift-a", "unit-drift-b"
    ctl, driver = controller((a, b), [{a: OK, b: OK}] * 2)
    ctl.tick()
    driver.weights = {a: 1, b: 1}  # someone edited the load balancer
    ctl.tick()
    assert driver.weights == {a: 100, b: 0}


def test_a_bus_fault_loses_the_event_not_the_decision():
    a, b = "unit-bus-a", "unit-bus-b"

    def broken(event: Event) -> None:
        raise TimeoutError("publish timed out")

    ctl, driver = controller((a, b), [{a: DOWN, b: OK}] * 3, publish=broken)
    for _ in range(3):
        ctl.tick()
    assert driver.weights == {a: 0, b: 100}


def test_rates_come_from_the_reader_and_raise_the_error_ratio_into_the_score():
    a, b = "unit-rate-a", "unit-rate-b"

    class Fixed:
        def read(self) -> Rates:
            return Rates({a: 12.5, b: 0.0}, {a: 0.25})

    ctl, driver = controller((a, b), [{a: OK, b: OK}], rates=Fixed())
    ctl.tick()
    assert sample("multiregion_request_rate", region=a) == 12.5
    assert sample("multiregion_error_rate", region=a) == 0.25
    assert driver.weights == {a: 50, b: 50}  # 25% errors: degraded, drained


def test_counter_rates_are_differences_over_time():
    counts = iter(
        [
            {"a": TrafficCount(100, 1)},
            {"a": TrafficCount(150, 6)},
            {"a": TrafficCount(10, 0)},  # the load balancer restarted
        ]
    )
    times = iter([0.0, 10.0, 20.0])
    rates = CounterRates(lambda: next(counts), clock=lambda: next(times))
    assert rates.read() == Rates()
    assert rates.read() == Rates({"a": 5.0}, {"a": 0.1})
    assert rates.read() == Rates()

    def unreachable() -> dict[str, TrafficCount]:
        raise DriverError("down")

    assert CounterRates(unreachable).read() == Rates()


def test_latency_percentiles_over_a_sliding_window():
    window = LatencyWindow(100)
    assert window.percentiles() == {}
    for value in range(1, 201):  # only the last 100 (101..200) count
        window.add(float(value))
    assert window.percentiles() == {"p50": 150.0, "p95": 195.0, "p99": 199.0}


@pytest.fixture
def prometheus() -> Iterator[tuple[str, list[str]]]:
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            from urllib.parse import parse_qs, urlsplit

            query = parse_qs(urlsplit(self.path).query)["query"][0]
            queries.append(query)
            value = "3.5" if "error" not in query else "NaN"
            result = [{"metric": {"region": "a"}, "value": [0, value]}, {"metric": {}, "value": [0, "1"]}]
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", queries
    server.shutdown()
    server.server_close()


def test_prometheus_rates_by_region_and_an_unreachable_prometheus_is_no_rate(prometheus):
    url, queries = prometheus
    rates = PrometheusRates(url, "sum by (region) (rate(requests[2m]))", "error ratio").read()
    assert rates == Rates({"a": 3.5}, {})  # a series without a region, and NaN (no requests), are left out
    assert queries == ["sum by (region) (rate(requests[2m]))", "error ratio"]
    assert PrometheusRates("http://127.0.0.1:9", "q", "q", timeout=0.5).read() == Rates()


def test_each_change_to_unhealthy_is_counted_once():
    a, b = "unit-blip-a", "unit-blip-b"
    rounds = [{a: OK, b: OK}] + [{a: DOWN, b: OK}] * 4 + [{a: OK, b: OK}]
    ctl, _ = controller((a, b), rounds)
    assert sample("region_unhealthy_events_total", region=a) == 0  # exported from the start
    for _ in range(6):
        ctl.tick()
    assert sample("region_unhealthy_events_total", region=a) == 1  # unhealthy for rounds 4-5, counted once
    assert sample("region_health_status", region=a) == 1  # healthy again: only the count remembers
