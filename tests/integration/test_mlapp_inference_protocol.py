"""mlapp's Open Inference Protocol routes as a third-party client sees them: real gunicorn (two workers), a
champion registered in a real MLflow server, and Triton's own HTTP client (`tritonclient.http`) in JSON mode and
in binary mode (the binary tensor data extension), compared with `/predict/batch` on the same houses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from common.schema import INPUT_FIELDS
from tests import mlapp_fixtures as fx

pytestmark = pytest.mark.integration

WORKERS = 2
LOAD_SECONDS = 120  # each worker downloads and checks the model; minutes are possible on a busy 2-core machine


@pytest.fixture(scope="module")
def served(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory, logs_dir) -> Iterator[tuple[str, str, int]]:
    """One mlapp for this module: (base URL, model name, serving version)."""
    model_name = f"mlapp-oip-{uuid.uuid4().hex[:8]}"
    env = fx.mlapp_env(mlflow_server, model_name, tmp_path_factory.mktemp("oip") / "prom", MODEL_POLL_SECONDS="1")
    # Registering is slow (a run, a logged model, a version): done while gunicorn boots; polling finds it.
    with ThreadPoolExecutor(max_workers=1) as registrar:
        registered = registrar.submit(
            fx.register, mlflow_server, model_name, fx.fitted("linear_regression"), "linear_regression"
        )
        with fx.mlapp_server(env, logs_dir / "mlapp-inference-protocol.log", workers=WORKERS) as (_child, url):
            version = registered.result()
            fx.promote(mlflow_server, model_name, version)
            fx.wait_serving(url, version, workers=WORKERS, timeout=LOAD_SECONDS)
            yield url, model_name, version


@pytest.fixture
def client(served: tuple[str, str, int]) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(served[0].removeprefix("http://")) as client:
        yield client


def inputs(records: list[dict[str, Any]], binary: bool) -> list[triton.InferInput]:
    """One tensor per house field: numbers as FP64 arrays, text as BYTES object arrays."""
    tensors = []
    for spec in INPUT_FIELDS:
        text = spec.kind == "text"
        values = np.array([r[spec.name] for r in records], dtype=object if text else np.float64)
        tensor = triton.InferInput(spec.name, [len(records)], "BYTES" if text else "FP64")
        tensors.append(tensor.set_data_from_numpy(values, binary_data=binary))
    return tensors


def batch_prices(url: str, records: list[dict[str, Any]]) -> list[float]:
    response = requests.post(f"{url}/predict/batch", json={"records": records}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_health_and_metadata(served: tuple[str, str, int], client: triton.InferenceServerClient) -> None:
    _url, model_name, version = served
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(model_name) and client.is_model_ready(model_name, str(version))
    assert not client.is_model_ready(model_name, str(version + 1))
    assert not client.is_model_ready("no-such-model")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    metadata = client.get_model_metadata(model_name)
    assert (metadata["name"], metadata["versions"]) == (model_name, [str(version)])
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["inputs"]] == [
        (s.name, "BYTES" if s.kind == "text" else "FP64", [-1]) for s in INPUT_FIELDS
    ]
    assert metadata["outputs"] == [{"name": "price", "datatype": "FP64", "shape": [-1]}]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_gives_the_prices_of_predict_batch(
    served: tuple[str, str, int], client: triton.InferenceServerClient, binary: bool
) -> None:
    url, model_name, version = served
    records = fx.sample_records(50, offset=300)
    expected = batch_prices(url, records)
    outputs = [triton.InferRequestedOutput("price", binary_data=binary)]
    result = client.infer(model_name, inputs(records, binary), outputs=outputs, request_id="oip-1")
    assert result.as_numpy("price").tolist() == expected  # bit-identical, through either encoding
    response = result.get_response()
    assert (response["model_name"], response["model_version"], response["id"]) == (model_name, str(version), "oip-1")
    assert ("parameters" in response["outputs"][0]) == binary  # binary_data_size, and no JSON data

    # The client's defaults: binary inputs, no outputs named (so `binary_data_output`), an explicit version.
    default = client.infer(model_name, inputs(records, True), model_version=str(version))
    assert default.as_numpy("price").tolist() == expected


def test_bad_houses_are_a_400_naming_the_field(
    served: tuple[str, str, int], client: triton.InferenceServerClient
) -> None:
    _url, model_name, _version = served
    records = fx.sample_records(3, offset=40)
    records[1]["sqft_living"] = -5
    with pytest.raises(InferenceServerException) as refused:
        client.infer(model_name, inputs(records, True))
    assert refused.value.status() == "400"
    assert "house 1: sqft_living must be at least 1 (got -5)" in refused.value.message()
