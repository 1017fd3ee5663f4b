"""The bench's serving peers without starting them: the bodies each one is sent, how the BentoML service is
started against what it declares, the pins of their environments, and the ratios they add to the table."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy
import pandas
import sklearn
import skops

from platform_bench import batch, bentoml_peer, loadtest, mlserver_peer, peer_env, serving, synthetic, wrk


def _service_tree() -> ast.Module:
    return ast.parse((bentoml_peer.SERVICE_DIR / "service.py").read_text())


def _measured(target: str, requests_per_second: float) -> loadtest.Measured:
    result = wrk.WrkResult(
        requests=int(requests_per_second * 10),
        duration_seconds=10.0,
        requests_per_second=requests_per_second,
        p50_ms=1.0,
        p90_ms=2.0,
        p99_ms=3.0,
        max_ms=4.0,
        socket_errors=0,
        status_errors=0,
    )
    return loadtest.Measured(target, 16, 2, [result])


def test_bentoml_is_sent_the_body_of_mlapps_batch_endpoint():
    records = synthetic.records(3, seed=5)
    assert bentoml_peer.body(records) == batch.batch_body(records)
    assert json.loads(bentoml_peer.body(records[:1])) == {"records": records[:1]}
    assert bentoml_peer.first_price([412_000.5, 1.0]) == 412_000.5


def test_mlserver_gets_one_typed_column_per_field():
    records = synthetic.records(2, seed=5)
    inputs = {column["name"]: column for column in json.loads(mlserver_peer.oip_body(records))["inputs"]}
    assert set(inputs) == set(records[0])
    for name, column in inputs.items():
        assert column["shape"] == [2]
        assert column["data"] == [r[name] for r in records]
    assert inputs["sqft_living"]["datatype"] == "INT64"  # the logged signature wants integer columns as INT64
    assert inputs["bedrooms"]["datatype"] == "FP64"
    assert inputs["city"]["datatype"] == "BYTES"


def test_the_served_class_and_route_are_the_ones_the_service_declares():
    module_name, class_name = bentoml_peer.SERVICE.split(":")
    assert (bentoml_peer.SERVICE_DIR / f"{module_name}.py").is_file()
    served = next(n for n in _service_tree().body if isinstance(n, ast.ClassDef) and n.name == class_name)
    routes = [
        f"/{node.name}"
        for node in served.body
        if isinstance(node, ast.FunctionDef) and any(ast.unparse(d) == "bentoml.api" for d in node.decorator_list)
    ]
    assert routes == [bentoml_peer.PREDICT_PATH]


def test_bentoml_serve_passes_exactly_the_arguments_the_service_reads():
    declared = next(n for n in _service_tree().body if isinstance(n, ast.ClassDef) and n.name == "Arguments")
    fields = {n.target.id for n in declared.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    cmd = bentoml_peer.serve_command(Path("/venv/bin/bentoml"), 4321, "house-price:7", 2)
    passed = dict(cmd[i + 1].split("=", 1) for i, part in enumerate(cmd) if part == "--arg")
    assert passed == {"model": "house-price:7", "workers": "2"}
    assert set(passed) == fields
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == "4321"


def test_peer_environments_pin_the_libraries_the_model_was_logged_with():
    pins = peer_env.model_pins()
    for name, module in {"scikit-learn": sklearn, "skops": skops, "numpy": numpy, "pandas": pandas}.items():
        assert f"{name}=={module.__version__}" in pins


def test_the_serving_table_has_a_ratio_per_peer_with_the_issues_targets():
    rates = {serving.MLAPP: 2000.0, serving.CEILING: 4000.0, serving.MLFLOW: 100.0, serving.MLSERVER: 250.0}
    rates[serving.BENTOML] = 200.0
    results = {(name, 16): _measured(name, rate) for name, rate in rates.items()}
    rows = {row.case: row for row in serving._rows(results, (16,), {"workers": 2})}
    assert rows["bentoml c=16"].values["requests_per_second"] == 200.0
    assert rows["mlapp / bentoml c=16"].values["ratio"] == 10.0
    assert (rows["mlapp / bentoml c=16"].target, rows["mlapp / bentoml c=16"].met) == ("", None)
    assert rows["mlapp / mlserver c=16"].met is False  # 8 x, target 10 x
    assert rows["mlapp / mlflow serve c=16"].met is True
    assert rows["mlapp / flask ceiling c=16"].summary == "0.50 x"
