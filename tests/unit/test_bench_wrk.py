"""The bench's load-test plumbing without a network: wrk's result line, the bodies files, the A/B order."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from platform_bench import loadtest, synthetic, wrk
from platform_bench.batch import batch_body
from platform_bench.serving import mlapp_body, mlflow_body
from platform_bench.webapp_roundtrip import form_body

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8081/predict
  2 threads and 16 connections
  Requests/sec:   4000.00
WRK_RESULT {"requests": 40000, "duration_us": 10000000, "bytes": 4000000, "errors": {"connect": 1, "read": 2, \
"write": 3, "timeout": 4, "status": 5}, "latency_us": {"p50": 2500, "p90": 5000, "p99": 12345, "max": 40000, \
"mean": 3000.5}}
"""


def test_the_result_line_is_parsed_into_milliseconds_and_errors():
    result = wrk.parse_result(WRK_OUTPUT)
    assert result.requests == 40000
    assert result.duration_seconds == 10.0
    assert result.requests_per_second == 4000.0
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms) == (2.5, 5.0, 12.345, 40.0)
    assert result.socket_errors == 10
    assert result.status_errors == 5
    assert result.errors == 15


def test_output_without_a_result_line_is_an_error():
    with pytest.raises(ValueError, match="WRK_RESULT"):
        wrk.parse_result("Running 10s test @ http://127.0.0.1:8081/predict\n")


def test_the_lua_script_ships_beside_the_module_and_prints_the_parsed_line():
    script = wrk.LUA_SCRIPT.read_text()
    assert wrk.RESULT_MARKER.strip() in script
    for key in ("requests", "duration_us", "connect", "read", "write", "timeout", "status", "p50", "p90", "p99"):
        assert f'"{key}"' in script


def test_bodies_file_holds_one_distinct_json_record_per_line(tmp_path):
    records = synthetic.records(300, seed=1)
    path = wrk.write_bodies(tmp_path / "predict.jsonl", map(mlapp_body, records))
    lines = path.read_text().splitlines()
    assert len(lines) == len(set(lines)) == 300
    assert [json.loads(line) for line in lines] == records


def test_mlflow_bodies_wrap_the_same_records_in_the_same_order(tmp_path):
    records = synthetic.records(50, seed=2)
    ours = wrk.write_bodies(tmp_path / "a.jsonl", map(mlapp_body, records)).read_text().splitlines()
    theirs = wrk.write_bodies(tmp_path / "b.jsonl", map(mlflow_body, records)).read_text().splitlines()
    assert [json.loads(t) for t in theirs] == [{"dataframe_records": [json.loads(o)]} for o in ours]


def test_batch_and_form_bodies_carry_the_records():
    records = synthetic.records(3, seed=3)
    assert json.loads(batch_body(records)) == {"records": records}
    form = parse_qs(form_body(records[0], "tok-en"))
    assert form.pop("csrf_token") == ["tok-en"]
    assert form == {name: [str(value)] for name, value in records[0].items()}


def test_a_body_with_a_line_break_is_refused(tmp_path):
    with pytest.raises(ValueError, match="one line"):
        wrk.write_bodies(tmp_path / "x.jsonl", ['{"a":\n1}'])


def test_rounds_alternate_the_order_of_the_targets():
    servers = ["mlapp", "flask", "mlflow"]
    assert loadtest.ab_order(servers, 0) == ["mlapp", "flask", "mlflow"]
    assert loadtest.ab_order(servers, 1) == ["mlflow", "flask", "mlapp"]
    assert loadtest.ab_order(servers, 2) == servers
    assert servers == ["mlapp", "flask", "mlflow"]


def test_wrk_threads_follow_the_cores_but_never_exceed_the_connections():
    assert wrk.threads_for(16, cores=2) == 2
    assert wrk.threads_for(1, cores=2) == 1
    assert wrk.threads_for(64, cores=8) == 8


def test_medians_and_errors_over_rounds():
    def result(rps: float, p99: float, errors: int) -> wrk.WrkResult:
        return wrk.WrkResult(int(rps * 10), 10.0, rps, 1.0, 2.0, p99, 50.0, 0, errors)

    measured = loadtest.Measured("mlapp", 16, 2, [result(100, 9.0, 0), result(300, 11.0, 2), result(200, 30.0, 1)])
    assert measured.requests_per_second == 200
    assert measured.p99_ms == 11.0
    assert measured.errors == 3
    assert len(measured.values()["rounds"]) == 3
