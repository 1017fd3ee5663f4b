"""The Open Inference Protocol (the "v2" REST protocol of KServe, Triton and MLServer) on mlapp.

One input tensor per house field, named after it, shape [n] or [n, 1]: numbers FP64 (any numeric datatype is
accepted), text BYTES; the binary tensor data extension is supported. The output `price` (FP64 [n]) holds the
prices `POST /predict/batch` gives for the same houses: same validation (`common.schema.validate_records`), same
`ServingModel.predict_columns`. A bad request is a 4xx `{"error": ...}` naming the tensor, element or field.
"""

from __future__ import annotations

import logging
import math
import time
from importlib.metadata import version as package_version
from typing import Any, cast

import numpy as np
from flask import Blueprint, Flask, Response, current_app, request
from pydantic import BaseModel, ValidationError

from common.contracts import inference as oip
from common.schema import FIELD_NAMES, INPUT_FIELDS, validate_records
from mlapp import context
from mlapp import metrics as m
from mlapp.config import SERVICE
from mlapp.model_holder import ServingModel

log = logging.getLogger(__name__)
bp = Blueprint("inference", __name__)

HEADER_LENGTH = "Inference-Header-Content-Length"  # the binary tensor data extension's JSON header length
OUTPUT = "price"
NUMERIC = {  # numeric datatype -> its little-endian numpy dtype (binary data)
    "FP64": "<f8", "FP32": "<f4", "INT64": "<i8", "INT32": "<i4", "INT16": "<i2", "INT8": "i1",
    "UINT64": "<u8", "UINT32": "<u4", "UINT16": "<u2", "UINT8": "u1",
}  # fmt: skip
JSON_TYPES = {"BYTES": ("a string", (str,))} | {  # what a datatype's JSON elements must be, as a phrase and types
    datatype: ("an integer", (int,)) if "INT" in datatype else ("a number", (int, float)) for datatype in NUMERIC
}
TEXT = {spec.name for spec in INPUT_FIELDS if spec.kind == "text"}
EXPECTED = f"one input tensor per house field: {', '.join(FIELD_NAMES)}"
OUTCOMES = {503: m.RequestStatus.UNAVAILABLE, 500: m.RequestStatus.ERROR}  # a refusal's status; 4xx: invalid
UNION_MEMBERS = {"bool", "int", "float", "constrained-str"}  # how pydantic names a union's members in an error's loc
MAX_LISTED = 10  # invalid houses or request errors named in one message
METADATA: dict[str, Any] = {  # the fields of `oip.ModelMetadata` that do not depend on the version served
    "platform": "mlflow_sklearn",
    "inputs": [oip.MetadataTensor(name=f, datatype="BYTES" if f in TEXT else "FP64", shape=[-1]) for f in FIELD_NAMES],
    "outputs": [oip.MetadataTensor(name=OUTPUT, datatype="FP64", shape=[-1])],
}
SERVER = oip.ServerMetadata(name=SERVICE, version=package_version("mlapp"), extensions=["binary_tensor_data"])


class ProtocolError(Exception):
    """A request the protocol refuses: answered with `status` and `{"error": message}`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _answer(payload: BaseModel, status: int = 200) -> Response:
    return current_app.response_class(payload.model_dump_json(exclude_none=True), status, mimetype="application/json")


def _serving(name: str, version: str | None, model: ServingModel | None) -> ServingModel:
    """`model` if it is the one `name` (and `version`, when the path names one) asks for."""
    holder = context.current().holder
    if name != holder.model_name:
        raise ProtocolError(f"unknown model {name!r}: this server serves {holder.model_name!r}", 404)
    if model is None:
        raise ProtocolError(holder.unavailable_reason(), 503)
    if version is not None and version != str(model.version):
        raise ProtocolError(f"model {name!r} version {version!r} is not served (version {model.version} is)", 404)
    return model


@bp.get("/v2")
def server_metadata() -> Response:
    return _answer(SERVER)


@bp.get("/v2/health/live")
def server_live() -> Response:
    return _answer(oip.ServerLive(live=True))


@bp.get("/v2/health/ready")
def server_ready() -> Response:
    holder = context.current().holder
    if holder.current is None:
        return _answer(oip.ServerReady(ready=False, error=holder.unavailable_reason()), 503)
    return _answer(oip.ServerReady(ready=True))


@bp.get("/v2/models/<name>", defaults={"version": None})
@bp.get("/v2/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None) -> Response:
    model = _serving(name, version, context.current().holder.current)
    return _answer(oip.ModelMetadata(name=name, versions=[str(model.version)], **METADATA))


@bp.get("/v2/models/<name>/ready", defaults={"version": None})
@bp.get("/v2/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None) -> Response:
    holder = context.current().holder
    if holder.current is None and name == holder.model_name:
        return _answer(oip.ModelReady(name=name, ready=False, error=holder.unavailable_reason()), 503)
    _serving(name, version, holder.current)
    return _answer(oip.ModelReady(name=name, ready=True))


@bp.post("/v2/models/<name>/infer", defaults={"version": None})
@bp.post("/v2/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None) -> Response:
    with m.ACTIVE_REQUESTS.track_inprogress():
        started = time.perf_counter()
        model = context.current().holder.current  # read once: a swap during this request does not affect it
        experiment = model.experiment if model else m.NO_EXPERIMENT
        try:
            response = _infer(_serving(name, version, model))
        except ProtocolError as exc:
            m.INFER_REQUESTS.labels(OUTCOMES.get(exc.status, m.RequestStatus.INVALID), experiment).inc()
            raise
        m.INFER_REQUESTS.labels(m.RequestStatus.SUCCESS, experiment).inc()
        m.INFER_LATENCY.labels(experiment).observe(time.perf_counter() - started)
        m.LAST_PREDICTION_TIME.set_to_current_time()
        return response


def _infer(model: ServingModel) -> Response:
    body, binary = _read_request()
    tensors, rows = _inputs(body)
    limit = context.current().config.max_batch
    if rows > limit:
        raise ProtocolError(f"too many rows: at most {limit} houses per request (got {rows}); split the batch", 413)
    parts, binary_output = _binary_parts(body, binary), _binary_output(body)
    columns = [_values(tensors[field], rows, parts.get(field)) for field in FIELD_NAMES]
    batch = validate_records([dict(zip(FIELD_NAMES, row, strict=True)) for row in zip(*columns, strict=True)])
    if batch.errors:
        listed = list(batch.errors.items())[:MAX_LISTED]
        houses = "; ".join(f"house {i}: " + ", ".join(f"{k} {v}" for k, v in fields.items()) for i, fields in listed)
        raise ProtocolError(f"{len(batch.errors)} of {rows} houses are invalid, nothing was predicted: {houses}")
    try:
        prices = model.predict_columns(batch.columns) if rows else []
    except Exception as exc:
        log.exception("inference failed", extra={"model_version": model.version})
        raise ProtocolError(f"the model could not price this batch: {exc}", 500) from exc
    if not all(math.isfinite(price) and price > 0 for price in prices):
        raise ProtocolError("the model returned something that is not a positive price; nothing is answered", 500)
    context.current().holder.drift.record_columns(model, batch.columns, rows)
    return _respond(model, body, prices, binary_output)


def _read_request() -> tuple[oip.InferenceRequest, bytes]:
    """The JSON inference request and the binary tensor data after it (binary tensor data extension)."""
    data, given = request.get_data(cache=False), request.headers.get(HEADER_LENGTH)
    header, binary = data, b""
    if given is not None:
        size = int(given) if given.isdecimal() else 0
        if not 0 < size <= len(data):
            raise ProtocolError(f"{HEADER_LENGTH} {given!r} is not a length within the {len(data)}-byte body")
        header, binary = data[:size], data[size:]
    try:
        return oip.InferenceRequest.model_validate_json(header), binary
    except ValidationError as exc:
        raise ProtocolError(f"invalid inference request: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """The errors by location, once per tensor element (pydantic reports one per type the element could have)."""
    found: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = [p for p in error["loc"] if p not in UNION_MEMBERS and not str(p).startswith("list[")]
        union = len(loc) < len(error["loc"]) and error["type"].endswith("_type")
        message = "must be a boolean, a number or a string" if union else error["msg"]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "body"
        found.setdefault(where, message)
    return "; ".join(f"{where}: {message}" for where, message in list(found.items())[:MAX_LISTED])


def _inputs(body: oip.InferenceRequest) -> tuple[dict[str, oip.Tensor], int]:
    """The input tensors by field (one per house field, of its kind's datatype, shape [n] or [n, 1]) and n."""
    tensors: dict[str, oip.Tensor] = {}
    for tensor in body.inputs:
        name, where = tensor.name, f"input {tensor.name!r}"
        if name not in FIELD_NAMES or name in tensors:
            raise ProtocolError(f"{where} is {'given twice' if name in tensors else 'unknown'}; {EXPECTED}")
        if tensor.datatype not in (("BYTES",) if name in TEXT else NUMERIC):
            wanted = "BYTES (a text field)" if name in TEXT else f"numeric, such as FP64 (one of {list(NUMERIC)})"
            raise ProtocolError(f"{where} has datatype {tensor.datatype}; it must be {wanted}")
        if not tensor.shape or tensor.shape[1:] not in ([], [1]):
            raise ProtocolError(f"{where} has shape {tensor.shape}; it must be [n] or [n, 1] for n houses")
        tensors[name] = tensor
    missing = [field for field in FIELD_NAMES if field not in tensors]
    if missing:
        raise ProtocolError(f"missing inputs {missing}; {EXPECTED}")
    rows = {tensor.shape[0]: name for name, tensor in tensors.items()}
    if len(rows) > 1:
        raise ProtocolError(f"the inputs disagree on the number of houses n in their shapes: {rows}")
    return tensors, next(iter(rows))


def _binary_parts(body: oip.InferenceRequest, binary: bytes) -> dict[str, bytes]:
    """Each binary input's bytes: the data after the JSON header, cut in the order of the inputs."""
    parts: dict[str, bytes] = {}
    offset = 0
    for tensor in (t for t in body.inputs if "binary_data_size" in (t.parameters or {})):
        size = (tensor.parameters or {})["binary_data_size"]
        if type(size) is not int or size < 0 or offset + size > len(binary) or tensor.data is not None:
            left = len(binary) - offset
            raise ProtocolError(
                f"input {tensor.name!r}: binary_data_size {size!r} must count bytes of the {left} left after the "
                "JSON header (and the input then has no `data`)"
            )
        parts[tensor.name] = binary[offset : offset + size]
        offset += size
    if offset != len(binary):
        raise ProtocolError(f"{len(binary)} bytes follow the JSON header; the inputs' binary_data_size add to {offset}")
    return parts


def _values(tensor: oip.Tensor, rows: int, part: bytes | None) -> list[Any]:
    """The tensor's elements as Python values (the types `validate_records` expects of JSON)."""
    where = f"input {tensor.name!r} ({tensor.datatype})"
    if part is not None and tensor.datatype == "BYTES":
        return _strings(part, rows, where)
    if part is not None:
        dtype = np.dtype(NUMERIC[tensor.datatype])
        if len(part) != rows * dtype.itemsize:
            raise ProtocolError(f"{where}: {len(part)} bytes of binary data for {rows} elements of {dtype.itemsize}")
        return cast(list[Any], np.frombuffer(part, dtype).tolist())
    data = tensor.data
    if data is None:  # shared memory (another extension) is not supported
        raise ProtocolError(f"{where} has neither `data` nor the binary_data_size parameter")
    if len(tensor.shape) == 2 and data and all(type(v) is list and len(v) == 1 for v in data):
        data = [v[0] for v in data if isinstance(v, list)]  # shape [n, 1] nested as [[a], [b], ...]
    if len(data) != rows:
        raise ProtocolError(f"{where} has {len(data)} elements for shape {tensor.shape}; give {rows}, a flat list")
    kind, allowed = JSON_TYPES[tensor.datatype]
    bad = next((i for i, value in enumerate(data) if type(value) not in allowed), None)
    if bad is not None:
        raise ProtocolError(f"{where} element {bad} is {data[bad]!r:.40}, not {kind}")
    return data


def _strings(part: bytes, rows: int, where: str) -> list[str]:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes (UTF-8 text here)."""
    values: list[str] = []
    offset = 0
    while offset < len(part) and len(values) < rows:
        size = int.from_bytes(part[offset : offset + 4], "little")
        element = part[offset + 4 : offset + 4 + size]
        if offset + 4 > len(part) or len(element) != size:
            raise ProtocolError(f"{where}: element {len(values)} is cut short by the end of its binary data")
        try:
            values.append(element.decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError(f"{where}: element {len(values)} is not UTF-8 text") from None
        offset += 4 + size
    if len(values) != rows or offset != len(part):
        raise ProtocolError(f"{where}: the binary data must hold exactly {rows} elements")
    return values


def _binary_output(body: oip.InferenceRequest) -> bool:
    """Whether `price` goes back as binary data: its own `binary_data`, else the request's `binary_data_output`."""
    outputs = body.outputs or []
    if any(output.name != OUTPUT for output in outputs):
        raise ProtocolError(f"unknown output in {[o.name for o in outputs]}: the only output is {OUTPUT!r}")
    flags = [(o.parameters or {}).get("binary_data") for o in outputs]
    flag = next((f for f in flags if f is not None), (body.parameters or {}).get("binary_data_output", False))
    if type(flag) is not bool:
        raise ProtocolError(f"the binary_data and binary_data_output parameters are true or false, not {flag!r}")
    return flag


def _respond(model: ServingModel, body: oip.InferenceRequest, prices: list[float], binary: bool) -> Response:
    """The price tensor as JSON, or as a JSON header followed by little-endian FP64 bytes when asked."""
    raw = np.asarray(prices, dtype="<f8").tobytes()
    size: oip.Parameters | None = {"binary_data_size": len(raw)} if binary else None
    data: oip.TensorData | None = None if binary else [*prices]
    tensor = oip.Tensor(name=OUTPUT, shape=[len(prices)], datatype="FP64", parameters=size, data=data)
    version = str(model.version)
    answer = oip.InferenceResponse(model_name=model.info["name"], model_version=version, id=body.id, outputs=[tensor])
    if not binary:
        return _answer(answer)
    header = answer.model_dump_json(exclude_none=True).encode()
    response = current_app.response_class(header + raw, mimetype="application/octet-stream")
    response.headers[HEADER_LENGTH] = str(len(header))
    return response


@bp.errorhandler(ProtocolError)
def _refused(exc: ProtocolError) -> Response:
    return _answer(oip.ErrorResponse(error=str(exc)), exc.status)


def install(app: Flask) -> None:
    app.register_blueprint(bp)
