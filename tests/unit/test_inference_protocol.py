"""mlapp's Open Inference Protocol routes (`/v2/...`, mlapp.inference) through Flask's test client, with a real
fitted pipeline installed in the holder: metadata, prices identical to `/predict/batch`, the binary tensor data
extension both ways, and a 4xx `{"error"}` naming the problem for every bad request."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.schema import FIELD_NAMES, INPUT_FIELDS
from mlapp.app import create_app
from mlapp.config import MlappConfig
from mlapp.metrics import REGISTRY
from mlapp.model_holder import ModelHolder, ServingModel
from tests import mlapp_fixtures as fx

FAMILY = "linear_regression"
INFO = {"name": "house-price", "version": 7, "family": FAMILY, "dataset_version": 3, "holdout_mae": 98765.4}
INFER = "/v2/models/house-price/infer"
HEADER_LENGTH = "Inference-Header-Content-Length"
TEXT = {spec.name for spec in INPUT_FIELDS if spec.kind == "text"}
DATATYPES = {field: "BYTES" if field in TEXT else "FP64" for field in FIELD_NAMES}
BINARY_PRICE = {"name": "price", "parameters": {"binary_data": True}}


def build(max_batch: int = 10_000, with_model: bool = True) -> Flask:
    config = MlappConfig.from_env({"MAX_BATCH_RECORDS": str(max_batch), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    holder = ModelHolder(config.settings.mlflow_tracking_uri, "house-price")
    if with_model:
        holder.install(ServingModel.from_pipeline(fx.fitted(FAMILY), INFO, load_seconds=0.25))
    return create_app(config=config, holder=holder, background=False)


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return build().test_client()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def tensors(records: list[dict[str, Any]], **overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """One JSON input tensor per house field (numbers FP64, text BYTES); `overrides[field]` replaces keys."""
    n = len(records)
    return [
        {"name": f, "shape": [n], "datatype": DATATYPES[f], "data": [r[f] for r in records], **overrides.get(f, {})}
        for f in FIELD_NAMES
    ]


def encode(field: str, values: list[Any]) -> bytes:
    """A tensor's binary data: FP64 little-endian, or BYTES as 4-byte little-endian length + UTF-8 bytes each."""
    if field in TEXT:
        return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
    return np.asarray(values, dtype="<f8").tobytes()


def binary_request(records: list[dict[str, Any]], **request: Any) -> tuple[bytes, dict[str, str]]:
    """A request whose every input travels as binary data after the JSON header."""
    parts = [encode(field, [r[field] for r in records]) for field in FIELD_NAMES]
    inputs = [{**t, "parameters": {"binary_data_size": len(p)}} for t, p in zip(tensors(records), parts, strict=True)]
    for tensor in inputs:
        del tensor["data"]
    header = json.dumps({"inputs": inputs, **request}).encode()
    return header + b"".join(parts), {HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}


def batch_prices(client: FlaskClient, records: list[dict[str, Any]]) -> list[float]:
    response = client.post("/predict/batch", json={"records": records})
    assert response.status_code == 200, response.json
    return response.json["results"]


def binary_prices(response: Any) -> tuple[dict[str, Any], list[float]]:
    """The JSON header and the FP64 price tensor of a binary answer."""
    assert response.status_code == 200, response.get_data()[:500]
    assert response.mimetype == "application/octet-stream"
    body, size = response.get_data(), int(response.headers[HEADER_LENGTH])
    header = json.loads(body[:size])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": len(body) - size}
    return header, np.frombuffer(body[size:], dtype="<f8").tolist()


def test_health_and_server_metadata(client: FlaskClient) -> None:
    assert (client.get("/v2/health/live").status_code, client.get("/v2/health/live").json) == (200, {"live": True})
    assert (client.get("/v2/health/ready").status_code, client.get("/v2/health/ready").json) == (200, {"ready": True})
    server = client.get("/v2").json
    assert server["name"] == "mlapp" and server["version"] and server["extensions"] == ["binary_tensor_data"]


@pytest.mark.parametrize("path", ["/v2/models/house-price", "/v2/models/house-price/versions/7"])
def test_model_metadata_has_one_input_per_house_field(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    body = response.json
    assert (body["name"], body["versions"], body["platform"]) == ("house-price", ["7"], "mlflow_sklearn")
    assert body["inputs"] == [{"name": f, "datatype": DATATYPES[f], "shape": [-1]} for f in FIELD_NAMES]
    assert body["outputs"] == [{"name": "price", "datatype": "FP64", "shape": [-1]}]
    assert client.get(f"{path}/ready").json == {"name": "house-price", "ready": True}


@pytest.mark.parametrize("suffix", ["", "/ready", "/infer"])
def test_other_models_and_versions_are_404(client: FlaskClient, suffix: str) -> None:
    send = client.post if suffix == "/infer" else client.get
    body = {"inputs": tensors(fx.sample_records(1))}
    unknown = send(f"/v2/models/other{suffix}", json=body)
    assert (unknown.status_code, unknown.json["error"]) == (
        404,
        "unknown model 'other': this server serves 'house-price'",
    )
    stale = send(f"/v2/models/house-price/versions/6{suffix}", json=body)
    assert stale.status_code == 404
    assert stale.json == {"error": "model 'house-price' version '6' is not served (version 7 is)"}


def test_infer_gives_the_prices_of_predict_batch(client: FlaskClient) -> None:
    records = fx.sample_records(50, offset=200)
    expected = batch_prices(client, records)
    before = metric("inference_protocol_requests_total", status="success", experiment=FAMILY)
    response = client.post(INFER, json={"id": "req-1", "inputs": tensors(records), "outputs": [{"name": "price"}]})
    assert response.status_code == 200, response.json
    assert response.json == {
        "model_name": "house-price",
        "model_version": "7",
        "id": "req-1",
        "outputs": [{"name": "price", "shape": [50], "datatype": "FP64", "data": expected}],  # bit-identical
    }
    assert metric("inference_protocol_requests_total", status="success", experiment=FAMILY) == before + 1
    assert metric("inference_protocol_latency_seconds_count", experiment=FAMILY) >= 1

    versioned = client.post("/v2/models/house-price/versions/7/infer", json={"inputs": tensors(records)})
    assert versioned.json["outputs"][0]["data"] == expected and "id" not in versioned.json


def test_infer_accepts_n_by_1_shapes_and_other_numeric_datatypes(client: FlaskClient) -> None:
    records = fx.sample_records(20, offset=7)
    expected = batch_prices(client, records)
    column = {f: {"shape": [20, 1]} for f in FIELD_NAMES}
    assert client.post(INFER, json={"inputs": tensors(records, **column)}).json["outputs"][0]["data"] == expected
    nested = {f: {"shape": [20, 1], "data": [[r[f]] for r in records]} for f in FIELD_NAMES}
    assert client.post(INFER, json={"inputs": tensors(records, **nested)}).json["outputs"][0]["data"] == expected
    whole = {s.name: {"datatype": "INT64"} for s in INPUT_FIELDS if s.kind == "int"}
    assert client.post(INFER, json={"inputs": tensors(records, **whole)}).json["outputs"][0]["data"] == expected
    empty = client.post(INFER, json={"inputs": tensors([])}).json["outputs"]
    assert empty == [{"name": "price", "shape": [0], "datatype": "FP64", "data": []}]


@pytest.mark.parametrize(
    "extra",
    [
        {"outputs": [BINARY_PRICE]},
        {"parameters": {"binary_data_output": True}},
        {"parameters": {"binary_data_output": False}, "outputs": [BINARY_PRICE]},  # the output's own flag wins
    ],
)
def test_binary_request_and_binary_answer(client: FlaskClient, extra: dict[str, Any]) -> None:
    records = fx.sample_records(30, offset=3)
    records[0]["street"] = "Åsgatan 5, Ünterstraße"  # multi-byte UTF-8 in a BYTES element
    expected = batch_prices(client, records)
    body, headers = binary_request(records, id="bin-1", **extra)
    header, prices = binary_prices(client.post(INFER, data=body, headers=headers))
    assert prices == expected
    assert (header["model_name"], header["model_version"], header["id"]) == ("house-price", "7", "bin-1")
    assert header["outputs"][0]["shape"] == [30] and "data" not in header["outputs"][0]

    # Binary in, JSON out; and JSON in, binary out.
    body, headers = binary_request(records, outputs=[{"name": "price", "parameters": {"binary_data": False}}])
    assert client.post(INFER, data=body, headers=headers).json["outputs"][0]["data"] == expected
    _, prices = binary_prices(client.post(INFER, json={"inputs": tensors(records), **extra}))
    assert prices == expected


ONE, TWO = fx.sample_records(1), fx.sample_records(2)


def one(**overrides: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": tensors(ONE, **overrides)}


def two(**overrides: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": tensors(TWO, **overrides)}


INVALID = "invalid inference request: "  # what pydantic refused
POOL = {"name": "pool", "shape": [1], "datatype": "FP64", "data": [1]}
BAD_REQUESTS = {  # all 400, with the start of the message
    "not JSON": (b"{not json", f"{INVALID}body: Invalid JSON"),
    "no inputs key": ({"outputs": []}, f"{INVALID}inputs: Field required"),
    "missing input": ({"inputs": tensors(ONE)[:-1]}, "missing inputs ['country']"),
    "unknown input": ({"inputs": [*tensors(ONE), POOL]}, "input 'pool' is unknown"),
    "input twice": ({"inputs": [*tensors(ONE), tensors(ONE)[0]]}, "input 'bedrooms' is given twice"),
    "rows disagree": (two(city={"shape": [1], "data": ["Seattle"]}), "the inputs disagree on the number of houses"),
    "2-d shape": (one(view={"shape": [1, 2], "data": [0, 1]}), "input 'view' has shape [1, 2]"),
    "negative shape": (one(view={"shape": [-1]}), f"{INVALID}inputs[6].shape[0]: Input should be greater than or"),
    "length != shape": (two(floors={"data": [1.0]}), "input 'floors' (FP64) has 1 elements for shape [2]"),
    "text as FP64": (one(city={"datatype": "FP64", "data": [1.0]}), "input 'city' has datatype FP64; it must be BYTES"),
    "number as BYTES": (one(bedrooms={"datatype": "BYTES", "data": ["3"]}), "input 'bedrooms' has datatype BYTES"),
    "BOOL": (one(waterfront={"datatype": "BOOL", "data": [False]}), "input 'waterfront' has datatype BOOL"),
    "unknown datatype": (one(view={"datatype": "FLOAT"}), f"{INVALID}inputs[6].datatype: Input should be 'BOOL'"),
    "string in FP64": (one(bedrooms={"data": ["three"]}), "input 'bedrooms' (FP64) element 0 is 'three', not a number"),
    "float in INT64": (one(view={"datatype": "INT64", "data": [1.5]}), "input 'view' (INT64) element 0 is 1.5, not an"),
    "number in BYTES": (one(city={"data": [5]}), "input 'city' (BYTES) element 0 is 5, not a string"),
    "not flat": (one(floors={"data": [[1.0, 2.0]]}), "input 'floors' (FP64) element 0 is [1.0, 2.0], not a number"),
    "too deep": (
        one(floors={"data": [[[1.0]]]}),
        f"{INVALID}inputs[4].data[0]: must be a boolean, a number or a string",
    ),
    "no data": (one(floors={"data": None}), "input 'floors' (FP64) has neither `data` nor the binary_data_size"),
    "invalid houses": (
        two(sqft_living={"data": [-5, 1980]}, view={"data": [0, 9]}),
        "2 of 2 houses are invalid, nothing was predicted: house 0: sqft_living must be at least 1 (got -5); "
        "house 1: view must be at most 4 (got 9)",
    ),
    "parameter not scalar": (
        {**one(), "parameters": {"binary_data_output": {"on": True}}},
        f"{INVALID}parameters.binary_data_output: must be a boolean, a number or a string",
    ),
    "unknown output": ({**one(), "outputs": [{"name": "cost"}]}, "unknown output in ['cost']"),
    "binary_data not bool": (
        {**one(), "parameters": {"binary_data_output": "yes"}},
        "the binary_data and binary_data_output parameters are true or false, not 'yes'",
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_requests_are_4xx_naming_the_problem(client: FlaskClient, case: str) -> None:
    body, message = BAD_REQUESTS[case]
    before = metric("inference_protocol_requests_total", status="invalid_input", experiment=FAMILY)
    response = client.post(INFER, data=body if isinstance(body, bytes) else json.dumps(body))
    assert (response.status_code, list(response.json)) == (400, ["error"]), response.json
    assert response.json["error"].startswith(message)
    assert metric("inference_protocol_requests_total", status="invalid_input", experiment=FAMILY) == before + 1


def test_bad_binary_data_is_400(client: FlaskClient) -> None:
    body, headers = binary_request(ONE)
    length = int(headers[HEADER_LENGTH])

    def refused(data: bytes, header_length: object = length) -> str:
        response = client.post(INFER, data=data, headers={**headers, HEADER_LENGTH: str(header_length)})
        assert response.status_code == 400 and list(response.json) == ["error"], response.json
        return response.json["error"]

    def tampered(field: str, part: bytes) -> tuple[bytes, int]:
        """The request with `part` as the binary data of `field`, the sizes in the JSON header adjusted."""
        request = json.loads(body[:length])
        parts = [part if f == field else encode(f, [ONE[0][f]]) for f in FIELD_NAMES]
        for tensor, data in zip(request["inputs"], parts, strict=True):
            tensor["parameters"]["binary_data_size"] = len(data)
        header = json.dumps(request).encode()
        return header + b"".join(parts), len(header)

    assert "Inference-Header-Content-Length 'abc' is not a length within" in refused(body, "abc")
    assert "is not a length within the" in refused(body, len(body) + 1)
    assert "bytes follow the JSON header; the inputs' binary_data_size add to" in refused(body + b"\0")
    assert "binary_data_size 8 must count bytes of the 7 left" in refused(body[:length] + body[length : length + 7])
    short_number = refused(*tampered("bedrooms", b"\0" * 4))
    assert "input 'bedrooms' (FP64): 4 bytes of binary data for 1 elements of 8" in short_number
    assert "input 'city' (BYTES): element 0 is cut short" in refused(*tampered("city", struct.pack("<I", 10) + b"abc"))
    not_utf8 = refused(*tampered("city", struct.pack("<I", 2) + b"\xff\xfe"))
    assert "input 'city' (BYTES): element 0 is not UTF-8 text" in not_utf8
    assert "hold exactly 1 elements" in refused(*tampered("city", encode("city", ["a", "b"])))


def test_too_many_rows_is_413() -> None:
    client = build(max_batch=3).test_client()
    response = client.post(INFER, json={"inputs": tensors(fx.sample_records(4))})
    assert response.status_code == 413
    assert response.json == {"error": "too many rows: at most 3 houses per request (got 4); split the batch"}
    assert client.post(INFER, json={"inputs": tensors(fx.sample_records(3))}).status_code == 200


def test_without_a_model_everything_but_liveness_is_503() -> None:
    client = build(with_model=False).test_client()
    before = metric("inference_protocol_requests_total", status="unavailable", experiment="none")
    assert client.get("/v2/health/live").status_code == 200
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503 and ready.json["ready"] is False
    assert ready.json["error"].startswith("no model loaded yet")
    model_ready = client.get("/v2/models/house-price/ready")
    assert model_ready.status_code == 503 and model_ready.json["ready"] is False
    for response in (
        client.get("/v2/models/house-price"),
        client.post(INFER, json={"inputs": tensors(fx.sample_records(2))}),
    ):
        assert response.status_code == 503 and response.json["error"].startswith("no model loaded yet")
    assert metric("inference_protocol_requests_total", status="unavailable", experiment="none") == before + 1
    assert client.get("/v2/models/other/ready").status_code == 404
