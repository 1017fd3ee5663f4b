"""The Open Inference Protocol routes (`mlapp.inference`) in mlapp's OpenAPI document, with their body cap."""

from __future__ import annotations

from functools import cache

from common.contracts import inference as oip
from common.openapi import Answer
from mlapp import inference
from mlapp.api_doc import API
from mlapp.routes import BATCH_BODY_LIMIT

NAME = {"type": "string", "maxLength": 256, "examples": ["house-price"], "description": "The served model's name"}
VERSION = {"type": "string", "maxLength": 64, "description": "The served model's version"}
REFUSED = Answer(oip.ErrorResponse, "The request is invalid: the error names the tensor, element or field")
UNKNOWN = Answer(oip.ErrorResponse, "No such model or version is served here")
NOT_LOADED = Answer(oip.ErrorResponse, "No model is loaded yet")
TAG = "Open Inference Protocol (v2)"


@cache
def register() -> None:
    """Add every v2 route to `API`, once (the views are the blueprint's own functions, so their body caps apply)."""
    API.operation(
        "GET", "/v2", summary="Server metadata", tag=TAG, answers={200: Answer(oip.ServerMetadata, "The server")}
    )(inference.server_metadata)
    API.operation(
        "GET", "/v2/health/live", summary="Server liveness", tag=TAG, answers={200: Answer(oip.ServerLive, "Live")}
    )(inference.server_live)
    API.operation(
        "GET",
        "/v2/health/ready",
        summary="Server readiness",
        tag=TAG,
        answers={200: Answer(oip.ServerReady, "Ready"), 503: Answer(oip.ServerReady, "Not ready, and why")},
    )(inference.server_ready)
    for prefix, params in (
        ("/v2/models/{name}", {"name": NAME}),
        ("/v2/models/{name}/versions/{version}", {"name": NAME, "version": VERSION}),
    ):
        API.operation(
            "GET",
            prefix,
            summary="Model metadata: one input per house field, the output `price`",
            tag=TAG,
            path_params=params,
            answers={200: Answer(oip.ModelMetadata, "The model's inputs and outputs"), 404: UNKNOWN, 503: NOT_LOADED},
        )(inference.model_metadata)
        API.operation(
            "GET",
            f"{prefix}/ready",
            summary="Model readiness",
            tag=TAG,
            path_params=params,
            answers={200: Answer(oip.ModelReady, "Ready"), 404: UNKNOWN, 503: Answer(oip.ModelReady, "Not ready")},
        )(inference.model_ready)
        API.operation(
            "POST",
            f"{prefix}/infer",
            summary="Price houses: one input tensor per field (FP64 numbers, BYTES text), output `price` (FP64)",
            tag=TAG,
            path_params=params,
            body=oip.InferenceRequest,
            body_limit=BATCH_BODY_LIMIT,
            answers={
                200: Answer(oip.InferenceResponse, "One price per house, in order"),
                400: REFUSED,
                404: UNKNOWN,
                413: Answer(oip.ErrorResponse, "The body or the number of houses is over the limit"),
                503: NOT_LOADED,
            },
        )(inference.infer)
