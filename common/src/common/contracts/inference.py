"""The payloads of the Open Inference Protocol (the "v2" REST protocol of KServe, Triton and MLServer).

Spec: https://github.com/kserve/open-inference-protocol (specification/protocol/inference_rest.md) and Triton's
binary tensor data extension (docs/protocol/extension_binary_data.md). mlapp answers it on `/v2/...`
(`mlapp.inference`).

These models face hostile input, so every string, list and map is bounded: an over-long name or a
million-parameter map is refused before anything looks at it. The bounds are generous for this protocol's real
use (a tensor per house field, a batch of up to `MAX_BATCH_RECORDS` houses); the HTTP body limit caps the
total anyway. Unlike `common.contracts.base.Payload`, unknown keys are ignored: the protocol lets clients and
servers add their own (Triton's examples send `model_name` in the request).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StringConstraints

MAX_NAME_LENGTH = 256  # tensor, model and parameter names, versions, request ids
MAX_STRING_LENGTH = 4096  # one BYTES element or one parameter value given as JSON text
MAX_PARAMETERS = 32
MAX_TENSORS = 64  # inputs or outputs of one request
MAX_DIMENSIONS = 8
MAX_ELEMENTS = 2_000_000  # elements of one tensor's JSON data (a 16 MB body holds fewer)

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BF16", "BYTES",
]  # fmt: skip
"""The protocol's tensor element types (`BYTES`: strings or raw bytes; in JSON, strings)."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]
Text = Annotated[str, StringConstraints(max_length=MAX_STRING_LENGTH)]
ParameterValue = StrictBool | StrictInt | StrictFloat | Text
Parameters = Annotated[
    dict[Name, ParameterValue],
    Field(
        max_length=MAX_PARAMETERS,
        description="Key/value options of the protocol and its extensions (e.g. `binary_data_size`, "
        "`binary_data`, `binary_data_output`); values are booleans, numbers or strings.",
    ),
]
Scalar = StrictBool | StrictInt | StrictFloat | Text
TensorData = Annotated[
    list[Scalar | Annotated[list[Scalar], Field(max_length=MAX_ELEMENTS)]],
    Field(
        max_length=MAX_ELEMENTS,
        description="The elements in row-major order: flat, or nested one level (`[[1.0], [2.0]]` for shape "
        "[2, 1]). Numbers for numeric datatypes, booleans for BOOL, strings for BYTES.",
    ),
]
Shape = Annotated[
    list[Annotated[int, Field(ge=0)]],
    Field(max_length=MAX_DIMENSIONS, description="The size of each dimension (row-major); [n] for n elements."),
]


class Tensor(BaseModel):
    """One tensor of a request (`$request_input`) or a response (`$response_output`).

    `data` is absent when the tensor travels as binary data after the JSON header (binary tensor data
    extension); `parameters.binary_data_size` then gives its length in bytes."""

    name: Name = Field(description="The tensor's name (for mlapp: a house field, or `price`).")
    shape: Shape
    datatype: Datatype = Field(description="The element type: FP64, INT64, BYTES, ...")
    parameters: Parameters | None = None
    data: TensorData | None = None


class RequestedOutput(BaseModel):
    """An output the client asks for (`$request_output`), with how it wants it returned."""

    name: Name = Field(description="The output's name (for mlapp: `price`).")
    parameters: Parameters | None = Field(
        default=None, description="`binary_data: true` returns this output as binary data after the JSON header."
    )


class InferenceRequest(BaseModel):
    """The body of `POST /v2/models/{model}[/versions/{version}]/infer` (`$inference_request`)."""

    id: Name | None = Field(default=None, description="An identifier echoed in the response.")
    parameters: Parameters | None = Field(
        default=None, description="`binary_data_output: true` returns every output as binary data."
    )
    inputs: list[Tensor] = Field(max_length=MAX_TENSORS, description="The input tensors, one per model input.")
    outputs: list[RequestedOutput] | None = Field(
        default=None,
        max_length=MAX_TENSORS,
        description="The outputs wanted; all of them, as JSON, when absent.",
    )


class InferenceResponse(BaseModel):
    """The answer of a successful inference (`$inference_response`)."""

    model_name: Name = Field(description="The model that computed the outputs.")
    model_version: Name | None = Field(default=None, description="The version of that model.")
    id: Name | None = Field(default=None, description="The request's `id`, when it had one.")
    parameters: Parameters | None = None
    outputs: list[Tensor] = Field(max_length=MAX_TENSORS, description="The output tensors.")


class MetadataTensor(BaseModel):
    """An input or output of a model as its metadata describes it (`$metadata_tensor`)."""

    name: Name
    datatype: Datatype
    shape: list[Annotated[int, Field(ge=-1)]] = Field(
        max_length=MAX_DIMENSIONS, description="The shape; -1 marks a variable-size dimension (the batch)."
    )


class ModelMetadata(BaseModel):
    """The answer of `GET /v2/models/{model}[/versions/{version}]` (`$metadata_model_response`)."""

    name: Name
    versions: list[Name] | None = Field(
        default=None, max_length=MAX_TENSORS, description="The versions that may be requested explicitly."
    )
    platform: Name = Field(description="The framework the model runs on.")
    inputs: list[MetadataTensor] = Field(max_length=MAX_TENSORS)
    outputs: list[MetadataTensor] = Field(max_length=MAX_TENSORS)


class ServerMetadata(BaseModel):
    """The answer of `GET /v2` (`$metadata_server_response`)."""

    name: Name
    version: Name
    extensions: list[Name] = Field(max_length=MAX_TENSORS, description="The protocol extensions supported.")


class ServerLive(BaseModel):
    """The answer of `GET /v2/health/live`: 200 while the server can answer requests."""

    live: bool


class ServerReady(BaseModel):
    """The answer of `GET /v2/health/ready`: 200 when every model can infer, else 503 with why not."""

    ready: bool
    error: Text | None = Field(default=None, description="Why the server is not ready.")


class ModelReady(BaseModel):
    """The answer of `GET /v2/models/{model}[/versions/{version}]/ready`: 200 when ready, else 503 with why not."""

    name: Name
    ready: bool
    error: Text | None = Field(default=None, description="Why the model is not ready.")


class ErrorResponse(BaseModel):
    """The body of every failed request (`$..._error_response`)."""

    error: str = Field(description="What went wrong, naming the tensor, element or field at fault.")
